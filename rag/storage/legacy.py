"""Files an older release kept per workspace on one replica's disk (a question log or an
evaluation history in SQLite, briefs and analyses as JSON), imported into the storage port once.

Each file is imported in one transaction that also records it in `legacy_imports` (by host and
path), so two processes opening the same old data directory import it once; the file is then
renamed `*.imported`, kept in case someone wants it back, and never read again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import IntegrityError

from rag.storage.tables import legacy_imports

log = logging.getLogger(__name__)
IMPORTED = ".imported"
_SEEN: set[tuple[int, str]] = set()
_LOCK = threading.Lock()


def import_once(engine: Engine, source: Path, load: Callable[[Connection], None]) -> bool:
    """Run `load` (which copies `source` into the database) once for this file, ever; True when
    this call imported it. A file that cannot be read is left in place and logged."""
    source = Path(source)
    memo = (id(engine), str(source))
    with _LOCK:
        if memo in _SEEN:
            return False
    if not source.exists():
        with _LOCK:
            _SEEN.add(memo)
        return False
    key = f"{socket.gethostname()}:{source.resolve()}"[:1200]
    done = False
    try:
        with engine.begin() as con:
            con.execute(insert(legacy_imports).values(source=key, imported_at=time.time()))
            load(con)
        done = True
    except IntegrityError:
        pass  # another process imported it first
    except Exception as exc:  # noqa: BLE001 - an unreadable old file must not stop the app
        log.warning("could not import %s: %s", source, type(exc).__name__)
        with _LOCK:
            _SEEN.add(memo)  # left in place; tried again by the next process
        return False
    for suffix in ("", "-wal", "-shm"):  # a SQLite file's write-ahead log goes with it
        with contextlib.suppress(OSError):
            source.with_name(source.name + suffix).rename(
                source.with_name(source.name + IMPORTED + suffix))
    with _LOCK:
        _SEEN.add(memo)
    return done


def forget() -> None:
    """Forget which files this process looked at (tests that re-create data directories)."""
    with _LOCK:
        _SEEN.clear()


_SAFE_COLLECTION = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class WorkspaceState:
    """Side state of one workspace on the storage port whose earlier release kept a file per
    workspace (`data_dir/analytics/<collection>/<legacy_name>`): the file is imported the first
    time the engine is asked for. Subclasses name the file and implement `_import_legacy`."""

    legacy_name = ""

    def __init__(self, data_dir: Path | str, collection: str, engine: Engine | None = None
                 ) -> None:
        if not _SAFE_COLLECTION.match(collection or ""):
            raise ValueError(f"invalid workspace collection name: {collection!r}")
        self.collection = collection
        self.data_dir = Path(data_dir)
        self.legacy_path = self.data_dir / "analytics" / collection / self.legacy_name
        self._given = engine
        self._ready: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The port's engine, with this workspace's file of an earlier release imported."""
        if self._ready is None:
            from rag.storage.db import engine_for_dir

            engine = self._given or engine_for_dir(self.data_dir)
            import_once(engine, self.legacy_path, self._import_legacy)
            self._ready = engine
        return self._ready

    def _import_legacy(self, con: Connection) -> None:
        raise NotImplementedError
