"""The Ask page's conversations, kept on the side-state port (one row a workspace and user:
`rag.storage.side.Conversations`), so a reload, a new tab or another replica behind the same
URL finds the chat where it was.

A conversation is plain JSON (never pickle), written whole in one statement, so a crash never
leaves half of one; an unreadable one is an empty chat. Older releases kept a file per
workspace and user (`analytics/<collection>/conversations/<hash>.json`, on one replica's disk):
it is imported the first time that user's conversation is read, and kept aside as
`.imported`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from rag.answer import Answer
from rag.errors import RagError
from rag.retrieve import SearchFilter
from rag.types import Chunk, Citation, Hit

MAX_TURNS = 50  # the oldest turns are dropped beyond this
_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Kept:
    """Where one user's conversation in one workspace is kept: the side store named by
    `settings` (RAG_DATABASE_URL, else the data dir's SQLite)."""

    settings: Any
    collection: str
    user: str

    @property
    def legacy_path(self) -> Path:
        return path_for(self.settings.data_dir, self.collection, self.user)


def kept_for(settings, collection: str, user: str) -> Kept:
    return Kept(settings, collection, (user or "local").strip().lower())


def path_for(data_dir: Path, collection: str, user: str) -> Path:
    """Where an older release kept a user's conversation in a workspace, in a file on one
    replica's disk (the user's email hashed)."""
    who = hashlib.sha256((user or "local").lower().encode()).hexdigest()[:16]
    return Path(data_dir) / "analytics" / collection / "conversations" / f"{who}.json"


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields `cls` has today (a file written by another version may differ)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _chunk(d: dict[str, Any]) -> Chunk:
    return Chunk(**_known(Chunk, d))


def _tuple_fields(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    out = _known(cls, d)
    for f in dataclasses.fields(cls):
        if f.name in out and isinstance(out[f.name], list) and "tuple" in str(f.type):
            out[f.name] = tuple(out[f.name])
    return out


def answer_from(d: dict[str, Any] | None) -> Answer | None:
    """An `Answer` from its `dataclasses.asdict` form."""
    if d is None:
        return None
    a = _known(Answer, d)
    a["citations"] = [Citation(**{**_tuple_fields(Citation, c), "chunk": _chunk(c["chunk"])})
                      for c in d.get("citations") or []]
    a["hits"] = [Hit(**{**_known(Hit, h), "chunk": _chunk(h["chunk"])})
                 for h in d.get("hits") or []]
    a["filter"] = SearchFilter(**_tuple_fields(SearchFilter, d.get("filter") or {}))
    return Answer(**a)


def encode(turns: list[Any]) -> str:
    """Turns (the Ask page's dataclass) as JSON text."""
    rows = [dataclasses.asdict(t) for t in turns[-MAX_TURNS:]]
    return json.dumps({"version": _VERSION, "turns": rows}, ensure_ascii=False, default=str)


def decode(text: str, turn_cls: type) -> list[Any]:
    """Turns back from `encode`'s JSON; a turn that no longer fits is skipped."""
    data = json.loads(text)
    out = []
    for row in data.get("turns") or []:
        try:
            t = _known(turn_cls, row)
            t["answer"] = answer_from(row.get("answer"))
            t["compare"] = answer_from(row.get("compare"))
            out.append(turn_cls(**t))
        except (TypeError, KeyError, ValueError):
            continue
    return out


def _store(settings):
    from rag.storage.db import engine_for
    from rag.storage.side import Conversations

    return Conversations(engine_for(settings))


def load(kept: Kept | Path, turn_cls: type) -> list[Any]:
    """The kept conversation ([] when there is none or it cannot be read)."""
    if isinstance(kept, Path):
        return _load_file(kept, turn_cls)
    try:
        store = _store(kept.settings)
        text = store.get(kept.collection, kept.user)
        if text is None:
            return _import_file(store, kept, turn_cls)
        return decode(text, turn_cls)
    except (RagError, SQLAlchemyError, ValueError, AttributeError):
        return []


def _import_file(store, kept: Kept, turn_cls: type) -> list[Any]:
    """An older release's file for this conversation, moved onto the port (once)."""
    path = kept.legacy_path
    if not path.exists():
        return []
    turns = _load_file(path, turn_cls)
    if turns:
        store.put(kept.collection, kept.user, encode(turns), len(turns[-MAX_TURNS:]))
    try:
        path.replace(path.with_name(path.name + ".imported"))
    except OSError:  # a read-only data dir: the row is there, the file is read no more
        pass
    return turns


def save(kept: Kept | Path, turns: list[Any]) -> bool:
    """Keep the conversation whole (an empty one is removed); False if it could not be kept
    (the database is unreachable, the data dir read-only): the chat still works for this
    session."""
    if isinstance(kept, Path):
        return _save_file(kept, turns)
    try:
        _store(kept.settings).put(kept.collection, kept.user, encode(turns),
                                  len(turns[-MAX_TURNS:]))
    except (RagError, SQLAlchemyError):
        return False
    return True


def _load_file(path: Path, turn_cls: type) -> list[Any]:
    try:
        return decode(path.read_text(encoding="utf-8"), turn_cls)
    except (OSError, ValueError, AttributeError):
        return []


def _save_file(path: Path, turns: list[Any]) -> bool:
    try:
        if not turns:
            path.unlink(missing_ok=True)
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".conv-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(encode(turns))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True
    except OSError:
        return False
