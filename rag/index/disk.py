"""Storage failures as messages: a full disk, a read-only or unwritable data directory.

Chroma (and SQLite under it) report these as OSErrors, sqlite3 errors or Rust errors turned
into strings; `disk_error` recognises them anywhere in an exception's chain and says which
folder and what to do, so no command or page ends in a database traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from rag.errors import WorkspaceError


class StorageUnavailable(WorkspaceError):
    """The data directory cannot be written (or read) as the operation needs."""

    def __init__(self, message: str, path: str | None, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason  # "full", "read-only", "denied" or "io"


# What each kind of failure says, in the errors Chroma's Rust core, SQLite and the OS give.
_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("full", ("database or disk is full", "no space left on device", "os error 28",
              "disk quota exceeded", "os error 122", "sqlite_full", "(code: 13)")),
    ("read-only", ("readonly database", "read-only database", "read-only file system",
                   "os error 30", "sqlite_readonly", "(code: 8)")),
    ("denied", ("permission denied", "os error 13", "unable to open database file",
                "(code: 14)")),
    ("io", ("disk i/o error", "sqlite_ioerr", "(code: 10)", "input/output error", "os error 5")),
)
_ERRNOS = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "read-only",
           errno.EACCES: "denied", errno.EPERM: "denied", errno.EIO: "io"}


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _reason(exc: BaseException) -> tuple[str, str | None] | None:
    for e in _chain(exc):
        if isinstance(e, StorageUnavailable):
            return e.reason, e.path
        if isinstance(e, OSError) and e.errno in _ERRNOS:
            return _ERRNOS[e.errno], e.filename if isinstance(e.filename, str) else None
        text = str(e).lower()
        for reason, needles in _PATTERNS:
            if any(n in text for n in needles):
                return reason, None
    return None


def message(reason: str, path: str) -> str:
    return {
        "full": f"the disk is full at {path}: free some space (or move RAG_DATA_DIR to a "
                "larger disk) and try again; nothing was changed",
        "read-only": f"{path} is read-only: reading works where the store allows it, but "
                     "adding or deleting needs a writable RAG_DATA_DIR",
        "denied": f"{path} cannot be written by this user (permission denied): fix its "
                  "owner or permissions, or set RAG_DATA_DIR to a folder of your own",
        "io": f"the disk at {path} reported an I/O error: check the disk (dmesg, fsck) "
              "before trying again",
    }[reason]


def probe(path: str | Path | None) -> str | None:
    """What is wrong with the filesystem holding `path` right now ("full", "read-only"), or
    None. For errors that do not say (Chroma's "Error in compaction: Failed to apply logs")."""
    if not path:
        return None
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return "read-only"
    if st.f_bavail * st.f_frsize < _NEARLY_FULL:
        return "full"
    return None


_NEARLY_FULL = 2 * 1024**2  # bytes free below which an unexplained store error is a full disk


def disk_error(exc: BaseException, path: str | Path | None = None,
               store_error: bool = False) -> StorageUnavailable | None:
    """`exc` as a StorageUnavailable naming `path` (or the file the OS named), or None when it
    is not a storage failure. `store_error`: `exc` came from the store, so an error that does
    not say why is checked against the filesystem at `path` (full, read-only)."""
    if isinstance(exc, StorageUnavailable) and (path is None or exc.path):
        return exc
    found = _reason(exc)
    if found is None and store_error:
        reason = probe(path)
        found = (reason, None) if reason else None
    if found is None:
        return None
    reason, named = found
    where = str(path or named or "the data directory")
    return StorageUnavailable(message(reason, where), where, reason)
