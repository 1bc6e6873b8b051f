"""The Ask page's conversations kept on disk, one file per workspace and user, so a reload (a
new Streamlit session) finds the chat where it was.

A file holds plain JSON (never pickle): `analytics/<collection>/conversations/<user>.json` in
the data dir, beside the workspace's question log. It is written whole through a temporary
file, so a crash never leaves half a conversation; an unreadable file is an empty chat.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rag.answer import Answer, Citation
from rag.retrieve import SearchFilter
from rag.types import Chunk, Hit

MAX_TURNS = 50  # the oldest turns are dropped beyond this
_VERSION = 1


def path_for(data_dir: Path, collection: str, user: str) -> Path:
    """Where a user's conversation in a workspace is kept (the user's email is hashed)."""
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


def load(path: Path, turn_cls: type) -> list[Any]:
    """The kept conversation ([] when there is none or it cannot be read)."""
    try:
        return decode(path.read_text(encoding="utf-8"), turn_cls)
    except (OSError, ValueError):
        return []


def save(path: Path, turns: list[Any]) -> bool:
    """Write the conversation whole (an empty one removes the file); False if it could not
    be written (a read-only data dir): the chat still works for this session."""
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
