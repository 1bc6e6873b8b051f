"""A record of the files queued for ingestion, written before the first one starts.

A batch ingested from the app stops when its script run stops (the browser closed, the page
left, the server restarted): the file in flight is rolled back and the rest never start. The
record keeps every queued file (its bytes too, spooled beside it) until its report is in, so
the files a batch never finished are listed as not ingested, to retry or dismiss.

Layout: `DATA_DIR/batches/<workspace key>/<batch id>/batch.json` and `<n>.bin` for each file
given as bytes (a file given as a path is recorded by its path).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.index.store import process_start, writer_gone
from rag.ingest.loaders import LoadOptions, safe_filename

# Batches running in this process (a record of this process that is not here was interrupted).
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()
# A batch of another machine is taken as interrupted once its heartbeat is this old.
STALE_S = 3600
_BEAT_EVERY_S = 10.0


def _writer_tag() -> str:
    import socket

    pid = os.getpid()
    start = process_start(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{start}" if start else "")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class PendingFile:
    """A queued file of an interrupted batch: what to show, and what `uploads` re-reads."""

    filename: str
    size: int | None
    retryable: bool


@dataclass(frozen=True)
class Interrupted:
    """A batch that stopped before all its files were ingested."""

    batch_id: str
    started_at: float
    files: tuple[PendingFile, ...]


class Batch:
    """One running batch: `done(i)` as each file's report is in; `finish()` at the end; the
    record stays (listed as interrupted) when the batch is left without `finish()`."""

    def __init__(self, folder: Path, record: dict) -> None:
        self.folder, self.record = folder, record
        self._beat = time.monotonic()

    @property
    def batch_id(self) -> str:
        return self.record["id"]

    def _save(self) -> None:
        with contextlib.suppress(OSError):  # bookkeeping must never break an ingest
            self.record["heartbeat"] = time.time()
            _write_json(self.folder / "batch.json", self.record)

    def done(self, index: int) -> None:
        """File `index` has its report (added, unchanged or failed): off the list."""
        entry = self.record["files"][index]
        if entry.get("done"):
            return
        entry["done"] = True
        if entry.get("spool"):
            with contextlib.suppress(OSError):
                (self.folder / entry["spool"]).unlink()
        self._save()

    def heartbeat(self) -> None:
        """Still running (called from progress updates; written at most every 10 s)."""
        if time.monotonic() - self._beat >= _BEAT_EVERY_S:
            self._beat = time.monotonic()
            self._save()

    def finish(self) -> None:
        """Every file has its report, or the caller told the user why not: forget the batch."""
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)
        self.release()

    def release(self) -> None:
        """This process no longer runs the batch (what is left of it reads as interrupted)."""
        with _LIVE_LOCK:
            _LIVE.discard(self.batch_id)


class BatchLog:
    """The batch records of one workspace."""

    def __init__(self, data_dir: Path, workspace: str) -> None:
        key = hashlib.sha256(workspace.encode("utf-8")).hexdigest()[:24]
        self.root = Path(data_dir) / "batches" / key
        self.workspace = workspace

    def start(self, uploads: Sequence[Any]) -> Batch:
        """Record `uploads` (rag.ingest.pipeline.Upload) before any is started. A file that
        cannot be spooled (disk full) is still listed, without a way to retry it."""
        batch_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder = self.root / batch_id
        files = []
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
        for i, up in enumerate(uploads):
            opts = up.options or LoadOptions()
            entry: dict[str, Any] = {
                "filename": up.filename, "source": up.source, "done": False,
                "options": {"text_column": opts.text_column, "date_column": opts.date_column,
                            "sheet": opts.sheet},
            }
            if up.data is not None:
                entry["size"] = len(up.data)
                try:
                    (folder / f"{i:04d}.bin").write_bytes(up.data)
                    entry["spool"] = f"{i:04d}.bin"
                except OSError:
                    pass
            elif up.path is not None:
                entry["path"] = str(Path(up.path).resolve())
                with contextlib.suppress(OSError):
                    entry["size"] = os.stat(up.path).st_size
            files.append(entry)
        record = {"id": batch_id, "workspace": self.workspace, "started_at": time.time(),
                  "writer": _writer_tag(), "files": files}
        batch = Batch(folder, record)
        with _LIVE_LOCK:
            _LIVE.add(batch_id)
        batch._save()
        return batch

    def _records(self) -> list[tuple[Path, dict]]:
        out = []
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except OSError:
            return []
        for folder in folders:
            try:
                out.append((folder, json.loads((folder / "batch.json").read_text("utf-8"))))
            except (OSError, ValueError):
                continue
        return out

    @staticmethod
    def _running(record: dict) -> bool:
        with _LIVE_LOCK:
            if record.get("id") in _LIVE:
                return True
        tag = str(record.get("writer") or "")
        if tag == _writer_tag():
            return False  # this process, and not among its live batches
        if writer_gone(tag):
            return False
        return time.time() - float(record.get("heartbeat") or 0) < STALE_S

    def interrupted(self) -> list[Interrupted]:
        """The batches that stopped with files never ingested, oldest first."""
        out = []
        for folder, record in self._records():
            if self._running(record):
                continue
            left = tuple(
                PendingFile(safe_filename(f["filename"]), f.get("size"),
                            bool(f.get("spool") and (folder / f["spool"]).exists())
                            or bool(f.get("path") and Path(f["path"]).is_file()))
                for f in record.get("files", []) if not f.get("done"))
            if left:
                out.append(Interrupted(record["id"], float(record.get("started_at") or 0), left))
            else:
                with contextlib.suppress(OSError):
                    shutil.rmtree(folder)
        return out

    def uploads(self, batch_id: str) -> list[Any]:
        """The files of an interrupted batch that can be read again, as Uploads (bytes read)."""
        from rag.ingest.pipeline import Upload

        for folder, record in self._records():
            if record.get("id") != batch_id:
                continue
            out = []
            for f in record.get("files", []):
                if f.get("done"):
                    continue
                opts = LoadOptions(**{k: v for k, v in (f.get("options") or {}).items() if v})
                try:
                    if f.get("spool"):
                        data = (folder / f["spool"]).read_bytes()
                        out.append(Upload(f["filename"], data=data, options=opts,
                                          source=f.get("source")))
                    elif f.get("path") and Path(f["path"]).is_file():
                        out.append(Upload(f["filename"], path=Path(f["path"]), options=opts,
                                          source=f.get("source")))
                except OSError:
                    continue
            return out
        return []

    def dismiss(self, batch_id: str) -> None:
        """Forget an interrupted batch (its spooled files too)."""
        for folder, record in self._records():
            if record.get("id") == batch_id:
                with contextlib.suppress(OSError):
                    shutil.rmtree(folder)
