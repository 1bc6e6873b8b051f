"""Briefs made off the page's thread: progress, time left, Cancel, and what was finished.

A `BriefJob` runs a function in a daemon thread, handing it a progress callback and a cancel
event (both taken by `summarize`); the page polls the job's fraction and message, and sets
`cancel` when the user presses Cancel. Nothing here imports Streamlit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Work = Callable[[Callable[[float, str], None], threading.Event], Any]


class BriefJob:
    """One piece of long work in a background thread; `result` or `error` once `done`."""

    def __init__(self, work: Work, label: str = "") -> None:
        self.label = label
        self.key = ""  # what the caller files the result under (a workspace)
        self.cancel = threading.Event()
        self.fraction = 0.0
        self.message = "Starting…"
        self.started = time.monotonic()
        self.finished_at: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"brief-job {label}"[:60],
                                        daemon=True)

    def start(self) -> BriefJob:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._work(self.progress, self.cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the page, shown as one line
            self.error = exc
        finally:
            self.finished_at = time.monotonic()
            self.fraction = 1.0 if self.error is None else self.fraction
            self._done.set()

    def progress(self, fraction: float, message: str) -> None:
        """The work's own report; the bar never moves back."""
        self.fraction = max(self.fraction, min(1.0, max(0.0, float(fraction))))
        self.message = message

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def wait(self, timeout: float) -> bool:
        """True when the work finished within `timeout` seconds."""
        return self._done.wait(timeout)

    @property
    def elapsed(self) -> float:
        return (self.finished_at or time.monotonic()) - self.started
