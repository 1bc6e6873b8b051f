"""The question log of one workspace: questions, their vectors, ingest failures and caches, on
the storage port (`rag.storage`: SQLite in the data directory, or the shared database of
RAG_DATABASE_URL, so every replica sees every question)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

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
from rag.storage.legacy import WorkspaceState
from rag.storage.tables import ingest_failures, question_cache, question_vectors, questions
from rag.storage.upsert import upsert

LEGACY_NAME = "questions.sqlite"
"""The per-workspace file of earlier releases, imported into the port on first use."""


def _record_select():
    """The columns `record_from_row` reads, in its order."""
    cols = ["id", *ROW_COLUMNS, "resolved_at", "resolved_by", "resolution"]
    return select(*(questions.c[c] for c in cols))


class QuestionLog(WorkspaceState):
    """The question log (and ingest failures) of one workspace."""

    legacy_name = LEGACY_NAME

    def _ws(self, table):
        return table.c.workspace == self.collection

    # -- questions --------------------------------------------------------------------------------

    def add(self, row: dict[str, Any]) -> int:
        """Insert one row (see `row_from_answer`); returns its id."""
        return self.add_many([row])[0]

    @staticmethod
    def _values(row: dict[str, Any]) -> dict[str, Any]:
        vals = {}
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
            vals[c] = v
        return vals

    def add_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        ids = []
        with self.engine.begin() as con:
            for row in rows:
                res = con.execute(insert(questions).values(workspace=self.collection,
                                                           **self._values(row)))
                key = res.inserted_primary_key
                assert key is not None  # an INSERT of one row has its key
                ids.append(int(key[0]))
        return ids

    def log(self, answer: Any, source: str = SOURCE_APP, reask_of: int | None = None) -> int:
        """Log an `Answer`; returns the new record's id."""
        return self.add(row_from_answer(answer, source, reask_of=reask_of))

    def records(self, include_reasks: bool = False, since: float | None = None
                ) -> list[QuestionRecord]:
        """Logged questions, oldest first (re-asks made by the dashboard left out unless asked)."""
        q = _record_select().where(self._ws(questions))
        if not include_reasks:
            q = q.where(questions.c.source != SOURCE_REASK)
        if since is not None:
            q = q.where(questions.c.asked_at >= since)
        with self.engine.connect() as con:
            rows = con.execute(q.order_by(questions.c.asked_at, questions.c.id)).all()
        return [record_from_row(tuple(r)) for r in rows]

    def get(self, qid: int) -> QuestionRecord | None:
        with self.engine.connect() as con:
            row = con.execute(_record_select().where(
                self._ws(questions), questions.c.id == int(qid))).first()
        return record_from_row(tuple(row)) if row else None

    def count(self) -> int:
        with self.engine.connect() as con:
            return int(con.execute(select(func.count()).select_from(questions)
                                   .where(self._ws(questions))).scalar() or 0)

    def mark_resolved(self, qid: int, note: str = "marked resolved by hand",
                      resolved_by: int | None = None, at: float | None = None) -> None:
        """Take a question off the unanswered list."""
        with self.engine.begin() as con:
            res = con.execute(update(questions).where(
                self._ws(questions), questions.c.id == int(qid)).values(
                resolved_at=at or time.time(), resolved_by=resolved_by, resolution=note[:300]))
        if res.rowcount == 0:
            from rag.errors import NotFound

            raise NotFound(f"no question {qid} in this workspace's log: reload the page")

    def reopen(self, qid: int) -> None:
        with self.engine.begin() as con:
            con.execute(update(questions).where(
                self._ws(questions), questions.c.id == int(qid)).values(
                resolved_at=None, resolved_by=None, resolution=""))

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

        qv = question_vectors
        keys = [text_key(t) for t in texts]
        found: dict[str, Any] = {}
        if keys:
            with self.engine.connect() as con:
                uniq = list(dict.fromkeys(keys))
                for i in range(0, len(uniq), 500):
                    part = uniq[i : i + 500]
                    rows = con.execute(select(qv.c.key, qv.c.vec).where(
                        self._ws(qv), qv.c.model == model, qv.c.key.in_(part))).all()
                    found.update({k: np.frombuffer(bytes(v), dtype=np.float32) for k, v in rows})
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if max_embed is not None:
            todo = todo[len(todo) - max_embed:] if max_embed > 0 else []
        if todo and embed is not None:
            first = {k: t for k, t in zip(keys, texts, strict=True) if k in set(todo)}
            new: dict[str, Any] = {}
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                vecs: np.ndarray = np.asarray(embed([first[k] for k in part]), dtype=np.float32)
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                vecs = vecs / np.where(norms == 0, 1.0, norms)
                new.update(zip(part, vecs, strict=True))
            with self.engine.begin() as con:
                # Replace: another replica may have stored the same question meanwhile.
                upsert(con, qv, [{"workspace": self.collection, "key": k, "model": model,
                                  "vec": v.astype(np.float32).tobytes()}
                                 for k, v in new.items()])
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
        qc = question_cache
        with self.engine.connect() as con:
            payload = con.execute(select(qc.c.payload).where(
                self._ws(qc), qc.c.name == name)).scalar()
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            return None

    def cache_put(self, name: str, payload: dict[str, Any]) -> None:
        qc = question_cache
        with self.engine.begin() as con:
            upsert(con, qc, [{"workspace": self.collection, "name": name,
                              "payload": json.dumps(payload), "updated_at": time.time()}])

    # -- ingest failures ----------------------------------------------------------------------------

    def record_ingest(self, filename: str, ok: bool, message: str = "") -> None:
        """A failed file is kept until a file of that name is added (or it is dismissed)."""
        f = ingest_failures
        this = (self._ws(f), f.c.filename == filename)
        with self.engine.begin() as con:
            if ok:
                con.execute(delete(f).where(*this))
                return
            upsert(con, f, [{"workspace": self.collection, "filename": filename,
                             "message": message[:500], "failed_at": time.time(), "attempts": 1}],
                   update={"message": lambda new: new.message,
                           "failed_at": lambda new: new.failed_at,
                           "attempts": f.c.attempts + 1})

    def failures(self) -> list[dict[str, Any]]:
        """Files that failed to ingest and were not added since, newest first."""
        f = ingest_failures
        with self.engine.connect() as con:
            rows = con.execute(select(f.c.filename, f.c.message, f.c.failed_at, f.c.attempts)
                               .where(self._ws(f)).order_by(f.c.failed_at.desc())).all()
        return [{"filename": fn, "message": m, "failed_at": t, "attempts": a}
                for fn, m, t, a in rows]

    def dismiss_failure(self, filename: str) -> None:
        f = ingest_failures
        with self.engine.begin() as con:
            con.execute(delete(f).where(self._ws(f), f.c.filename == filename))

    # -- a question log file of an earlier release ----------------------------------------------

    def _import_legacy(self, con) -> None:
        old = sqlite3.connect(f"file:{self.legacy_path}?mode=ro", uri=True, timeout=30.0)
        try:
            tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master")}
            ids: dict[int | None, int] = {}  # get(None): no link
            links = []
            if "questions" in tables:
                old.row_factory = sqlite3.Row
                for r in old.execute("SELECT * FROM questions ORDER BY id"):
                    r = dict(r)
                    vals = {c: r.get(c) for c in ROW_COLUMNS if c != "reask_of"}
                    vals.update(resolved_at=r.get("resolved_at"),
                                resolution=r.get("resolution") or "")
                    res = con.execute(insert(questions).values(workspace=self.collection,
                                                               **vals))
                    ids[r["id"]] = int(res.inserted_primary_key[0])
                    if r.get("reask_of") is not None or r.get("resolved_by") is not None:
                        links.append((r["id"], r.get("reask_of"), r.get("resolved_by")))
                old.row_factory = None
            for oid, reask_of, resolved_by in links:  # ids change: re-point the links
                con.execute(update(questions).where(questions.c.id == ids[oid]).values(
                    reask_of=ids.get(reask_of), resolved_by=ids.get(resolved_by)))
            if "question_vectors" in tables:
                rows = [{"workspace": self.collection, "key": k, "model": m, "vec": bytes(v)}
                        for k, m, v in old.execute("SELECT key, model, vec FROM question_vectors")]
                if rows:
                    con.execute(insert(question_vectors), rows)
            if "ingest_failures" in tables:
                rows = [{"workspace": self.collection, "filename": fn, "message": m,
                         "failed_at": t, "attempts": a} for fn, m, t, a in old.execute(
                    "SELECT filename, message, failed_at, attempts FROM ingest_failures")]
                if rows:
                    con.execute(insert(ingest_failures), rows)
        finally:
            old.close()


def log_quietly(data_dir: Path | str, collection: str, answer: Any,
                source: str = SOURCE_APP, embedder: Any = None,
                engine: Engine | None = None) -> int | None:
    """Log an answer; a log that cannot be written never stops a question from being answered.

    With the workspace's `embedder` (already loaded to answer), the question's vector is
    stored too (a few milliseconds), so the dashboard groups it without embedding it then.
    """
    if answer is None:
        return None
    try:
        log = QuestionLog(data_dir, collection, engine)
        qid = log.log(answer, source)
    except Exception:  # noqa: BLE001 - a full disk or a locked file must not break asking
        return None
    if embedder is not None:
        with contextlib.suppress(Exception):  # grouping can embed it later
            log.vectors([answer.rewritten or answer.question], embedder.name, embedder.embed)
    return qid


def note_ingest_quietly(data_dir: Path | str, collection: str, report: Any,
                        engine: Engine | None = None) -> None:
    """Record an ingest report's outcome (failures wait on the dashboard); never raises."""
    with contextlib.suppress(Exception):  # bookkeeping must not break an ingest
        QuestionLog(data_dir, collection, engine).record_ingest(report.filename, report.ok,
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

