"""The question log of one workspace: one SQLite file of questions, vectors, failures, caches."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.analytics.questions.records import (
    ANSWERED,
    CHECK_NONE,
    ROW_COLUMNS,
    SOURCE_APP,
    SOURCE_REASK,
    QuestionRecord,
    record_from_row,
    row_from_answer,
    text_key,
)
from rag.storage.sqlite import open_sqlite, write_sqlite

DB_NAME = "questions.sqlite"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at REAL NOT NULL,
    question TEXT NOT NULL,
    rewritten TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    seconds REAL,
    first_token_s REAL,
    abstained INTEGER NOT NULL,
    citation_check TEXT NOT NULL,
    citations INTEGER NOT NULL DEFAULT 0,
    flags TEXT NOT NULL DEFAULT '[]',
    passages TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'app',
    reask_of INTEGER,
    resolved_at REAL,
    resolved_by INTEGER,
    resolution TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions(asked_at);
CREATE TABLE IF NOT EXISTS question_vectors (
    key TEXT NOT NULL, model TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (key, model)
);
CREATE TABLE IF NOT EXISTS ingest_failures (
    filename TEXT PRIMARY KEY, message TEXT NOT NULL, failed_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS cache (
    name TEXT PRIMARY KEY, payload TEXT NOT NULL, updated_at REAL NOT NULL
);
"""


class QuestionLog:
    """The question log (and ingest failures) of one workspace, in one SQLite file."""

    def __init__(self, data_dir: Path | str, collection: str) -> None:
        if not _SAFE.match(collection or ""):
            raise ValueError(f"invalid workspace collection name: {collection!r}")
        self.path = Path(data_dir) / "analytics" / collection / DB_NAME

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return open_sqlite(self.path, _SCHEMA)

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return write_sqlite(self.path, _SCHEMA)

    # -- questions --------------------------------------------------------------------------------

    def add(self, row: dict[str, Any]) -> int:
        """Insert one row (see `row_from_answer`); returns its id."""
        return self.add_many([row])[0]

    def add_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        ids = []
        with self._write() as con:
            for row in rows:
                vals = []
                for c in ROW_COLUMNS:
                    v = row.get(c)
                    if c in ("flags", "passages"):
                        v = json.dumps(v or [], ensure_ascii=False)
                    elif c == "abstained":
                        v = int(bool(v))
                    elif c == "citation_check":
                        v = v or CHECK_NONE
                    elif c in ("rewritten", "model", "answer"):
                        v = v or ""
                    elif c == "source":
                        v = v or SOURCE_APP
                    elif c == "citations":
                        v = int(v or 0)
                    vals.append(v)
                cur = con.execute(
                    f"INSERT INTO questions ({', '.join(ROW_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})", vals)
                ids.append(int(cur.lastrowid or 0))
        return ids

    def log(self, answer: Any, source: str = SOURCE_APP, reask_of: int | None = None) -> int:
        """Log an `Answer`; returns the new record's id."""
        return self.add(row_from_answer(answer, source, reask_of=reask_of))

    def records(self, include_reasks: bool = False, since: float | None = None
                ) -> list[QuestionRecord]:
        """Logged questions, oldest first (re-asks made by the dashboard left out unless asked)."""
        sql = "SELECT * FROM questions WHERE 1=1"
        args: list[Any] = []
        if not include_reasks:
            sql += " AND source != ?"
            args.append(SOURCE_REASK)
        if since is not None:
            sql += " AND asked_at >= ?"
            args.append(since)
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY asked_at, id", args).fetchall()
        return [record_from_row(r) for r in rows]

    def get(self, qid: int) -> QuestionRecord | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT * FROM questions WHERE id = ?", (int(qid),)).fetchone()
        return record_from_row(row) if row else None

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM questions").fetchone()[0])

    def mark_resolved(self, qid: int, note: str = "marked resolved by hand",
                      resolved_by: int | None = None, at: float | None = None) -> None:
        """Take a question off the unanswered list."""
        with self._write() as con:
            cur = con.execute(
                "UPDATE questions SET resolved_at = ?, resolved_by = ?, resolution = ? "
                "WHERE id = ?", (at or time.time(), resolved_by, note[:300], int(qid)))
            if cur.rowcount == 0:
                from rag.errors import NotFound

                raise NotFound(f"no question {qid} in this workspace's log: reload the page")

    def reopen(self, qid: int) -> None:
        with self._write() as con:
            con.execute("UPDATE questions SET resolved_at = NULL, resolved_by = NULL, "
                        "resolution = '' WHERE id = ?", (int(qid),))

    # -- vectors (each question embedded once) -----------------------------------------------------

    def vectors(self, texts: Sequence[str], model: str,
                embed: Callable[[list[str]], Any] | None = None, batch: int = 64,
                max_embed: int | None = None):
        """One unit vector per text: stored ones read back, missing ones embedded and stored.

        At most `max_embed` missing texts are embedded (the last ones: newest first in a log),
        so one call stays quick however many are missing. Returns (matrix, missing): the
        positions still without a vector, whose rows are zero.
        """
        import numpy as np

        keys = [text_key(t) for t in texts]
        found: dict[str, Any] = {}
        if self.path.exists() and keys:
            with self._connect() as con:
                uniq = list(dict.fromkeys(keys))
                for i in range(0, len(uniq), 500):
                    part = uniq[i : i + 500]
                    rows = con.execute(
                        f"SELECT key, vec FROM question_vectors WHERE model = ? AND key IN "
                        f"({', '.join('?' * len(part))})", [model, *part]).fetchall()
                    found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if max_embed is not None:
            todo = todo[len(todo) - max_embed:] if max_embed > 0 else []
        if todo and embed is not None:
            first = {k: t for k, t in zip(keys, texts, strict=True) if k in set(todo)}
            new: dict[str, Any] = {}
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                vecs = np.asarray(embed([first[k] for k in part]), dtype=np.float32)
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                vecs = vecs / np.where(norms == 0, 1.0, norms)
                new.update(zip(part, vecs, strict=True))
            with self._write() as con:
                con.executemany(
                    "INSERT OR REPLACE INTO question_vectors (key, model, vec) VALUES (?, ?, ?)",
                    [(k, model, v.astype(np.float32).tobytes()) for k, v in new.items()])
            found.update(new)
        dim = next((len(v) for v in found.values()), 0)
        X = np.zeros((len(texts), dim), dtype=np.float32)
        missing = []
        for i, k in enumerate(keys):
            v = found.get(k)
            if v is None or len(v) != dim:
                missing.append(i)
            else:
                X[i] = v
        return X, missing

    # -- cache (topics) -----------------------------------------------------------------------------

    def cache_get(self, name: str) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT payload FROM cache WHERE name = ?", (name,)).fetchone()
        try:
            return json.loads(row[0]) if row else None
        except ValueError:
            return None

    def cache_put(self, name: str, payload: dict[str, Any]) -> None:
        with self._write() as con:
            con.execute("INSERT OR REPLACE INTO cache (name, payload, updated_at) "
                        "VALUES (?, ?, ?)", (name, json.dumps(payload), time.time()))

    # -- ingest failures ----------------------------------------------------------------------------

    def record_ingest(self, filename: str, ok: bool, message: str = "") -> None:
        """A failed file is kept until a file of that name is added (or it is dismissed)."""
        with self._write() as con:
            if ok:
                con.execute("DELETE FROM ingest_failures WHERE filename = ?", (filename,))
            else:
                con.execute(
                    "INSERT INTO ingest_failures (filename, message, failed_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(filename) DO UPDATE SET message = excluded.message, "
                    "failed_at = excluded.failed_at, attempts = attempts + 1",
                    (filename, message[:500], time.time()))

    def failures(self) -> list[dict[str, Any]]:
        """Files that failed to ingest and were not added since, newest first."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute("SELECT filename, message, failed_at, attempts FROM "
                               "ingest_failures ORDER BY failed_at DESC").fetchall()
        return [{"filename": f, "message": m, "failed_at": t, "attempts": a}
                for f, m, t, a in rows]

    def dismiss_failure(self, filename: str) -> None:
        with self._write() as con:
            con.execute("DELETE FROM ingest_failures WHERE filename = ?", (filename,))


def log_quietly(data_dir: Path | str, collection: str, answer: Any,
                source: str = SOURCE_APP, embedder: Any = None) -> int | None:
    """Log an answer; a log that cannot be written never stops a question from being answered.

    With the workspace's `embedder` (already loaded to answer), the question's vector is
    stored too (a few milliseconds), so the dashboard groups it without embedding it then.
    """
    if answer is None:
        return None
    try:
        log = QuestionLog(data_dir, collection)
        qid = log.log(answer, source)
    except Exception:  # noqa: BLE001 - a full disk or a locked file must not break asking
        return None
    if embedder is not None:
        with contextlib.suppress(Exception):  # grouping can embed it later
            log.vectors([answer.rewritten or answer.question], embedder.name, embedder.embed)
    return qid


def note_ingest_quietly(data_dir: Path | str, collection: str, report: Any) -> None:
    """Record an ingest report's outcome (failures wait on the dashboard); never raises."""
    with contextlib.suppress(Exception):  # bookkeeping must not break an ingest
        QuestionLog(data_dir, collection).record_ingest(report.filename, report.ok,
                                                        report.message)


def reask(log: QuestionLog, qid: int, answerer: Any) -> tuple[QuestionRecord, bool]:
    """Ask a logged question again with the current documents and record the result.

    The new answer is logged as a re-ask of `qid`; when it is answered with checked citations,
    the question is marked resolved. Returns (the new record, resolved or not).
    """
    from rag.errors import NotFound

    original = log.get(qid)
    if original is None:
        raise NotFound(f"no question {qid} in this workspace's log: reload the page")
    answer = answerer.ask(original.topic_text)
    new_id = log.log(answer, SOURCE_REASK, reask_of=qid)
    new = log.get(new_id)
    assert new is not None
    if new.outcome == ANSWERED:
        log.mark_resolved(qid, f"answered on re-ask ({new.citations} checked citation"
                               f"{'s' * (new.citations != 1)})", resolved_by=new_id)
        return new, True
    return new, False

