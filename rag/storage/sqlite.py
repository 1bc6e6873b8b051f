"""SQLite files safe with several writers (app processes and the CLI at once).

WAL mode, a busy timeout, autocommit reads and `BEGIN IMMEDIATE` write transactions: readers
never block writers and writers queue instead of failing. The question log and the evaluation
history keep their data this way.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_READY: set[str] = set()
_READY_LOCK = threading.Lock()


@contextlib.contextmanager
def open_sqlite(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection to a WAL-mode SQLite file, its schema created on first use.

    Autocommit mode; readers never block writers (WAL) and a busy writer is waited for.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path)
    fresh = not path.exists()
    con = sqlite3.connect(key, timeout=30.0, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout = 30000")
        if fresh or key not in _READY:
            with _READY_LOCK:
                _set_up(con, schema)
                _READY.add(key)
        con.execute("PRAGMA synchronous = NORMAL")
        yield con
    finally:
        con.close()


def _set_up(con: sqlite3.Connection, schema: str, wait_s: float = 30.0) -> None:
    """WAL mode and the schema. Two processes creating the file at once can get "database is
    locked" here without SQLite's busy handler being called, so this waits and retries."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def write_sqlite(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once (BEGIN IMMEDIATE), so writers queue and never clash."""
    with open_sqlite(path, schema) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
