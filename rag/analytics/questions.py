"""The question log of a workspace: what was asked, what came back, and what it adds up to.

One SQLite file per workspace, `<data_dir>/analytics/<collection>/questions.sqlite`, holds every
question asked on the Ask page or with `ragdesk ask`: the question, the rewritten query, the
model, when, how long, whether it abstained, the citation check (ok / flagged / none), the top
passages, and whether an analyst marked it resolved. WAL mode and short write transactions let
several app processes and the CLI write at once. The same file keeps the files that failed to
ingest (until one with that name is added) and each question's vector, so a question is embedded
once however often the dashboard groups it.

The aggregation functions are pure (records in, numbers and tables out) and are tested on a
generated log. Nothing here sends anything anywhere: the log stays next to the workspace.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

DB_NAME = "questions.sqlite"
CHECK_OK, CHECK_FLAGGED, CHECK_NONE = "ok", "flagged", "none"
ANSWERED, FLAGGED, ABSTAINED = "answered", "flagged", "abstained"
OUTCOMES = (ANSWERED, FLAGGED, ABSTAINED)
SOURCE_APP, SOURCE_CLI, SOURCE_REASK = "app", "cli", "reask"
PASSAGES_KEPT = 5
SNIPPET_CHARS = 240
ANSWER_CHARS = 4000
OTHER_TOPIC = "Other questions"
# Topics are re-clustered from scratch once the questions grew by this share since the last
# clustering; until then new questions join the nearest existing topic (cheap).
RECLUSTER_GROWTH = 0.2
RECLUSTER_MIN_NEW = 20
GREEDY_SIMILARITY = 0.55  # fewer questions than clustering needs: join a group this similar

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
_READY: set[str] = set()
_READY_LOCK = threading.Lock()


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """One of the top passages retrieved for a question (what the dashboard shows as closest)."""

    chunk_id: str
    doc_id: str
    doc_name: str
    location: str
    page: int | None = None
    score: float | None = None
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "doc_id": self.doc_id, "doc_name": self.doc_name,
                "location": self.location, "page": self.page, "score": self.score,
                "snippet": self.snippet}


@dataclass(frozen=True)
class QuestionRecord:
    """One logged question and what came back."""

    id: int
    asked_at: float
    question: str
    rewritten: str = ""
    model: str = ""
    seconds: float | None = None
    first_token_s: float | None = None
    abstained: bool = False
    check: str = CHECK_NONE
    citations: int = 0
    flags: tuple[str, ...] = ()
    passages: tuple[Passage, ...] = ()
    answer: str = ""
    source: str = SOURCE_APP
    reask_of: int | None = None
    resolved_at: float | None = None
    resolved_by: int | None = None
    resolution: str = ""

    @property
    def outcome(self) -> str:
        """answered (citations checked), flagged (a citation failed its check) or abstained."""
        if self.abstained:
            return ABSTAINED
        return FLAGGED if self.check == CHECK_FLAGGED else ANSWERED

    @property
    def unanswered(self) -> bool:
        """The documents did not hold the answer, or its citations failed their check."""
        return self.outcome != ANSWERED

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def topic_text(self) -> str:
        """The standalone form of the question (a follow-up's rewrite), for grouping."""
        return self.rewritten or self.question


def citation_check(answer: Any) -> str:
    """ok when every citation of the answer holds, flagged when one does not, none without."""
    citations = list(getattr(answer, "citations", []) or [])
    if not citations:
        return CHECK_NONE
    return CHECK_OK if all(c.ok for c in citations) else CHECK_FLAGGED


def passages_of(answer: Any, n: int = PASSAGES_KEPT) -> list[Passage]:
    """The answer's top passages (ids, names, places, a short snippet)."""
    out = []
    for h in list(getattr(answer, "hits", []) or [])[:n]:
        c = h.chunk
        out.append(Passage(chunk_id=c.id, doc_id=c.doc_id, doc_name=c.doc_name,
                           location=c.location(), page=c.page,
                           score=round(float(h.score), 6),
                           snippet=" ".join(c.text.split())[:SNIPPET_CHARS]))
    return out


def row_from_answer(answer: Any, source: str = SOURCE_APP, asked_at: float | None = None,
                    reask_of: int | None = None) -> dict[str, Any]:
    """The log row of an `rag.answer.Answer` (plain values, ready to insert)."""
    return {
        "asked_at": float(asked_at if asked_at is not None else time.time()),
        "question": str(answer.question),
        "rewritten": str(answer.rewritten or ""),
        "model": str(answer.model or ""),
        "seconds": float(answer.seconds) if answer.seconds is not None else None,
        "first_token_s": (float(answer.first_token_s)
                          if getattr(answer, "first_token_s", None) is not None else None),
        "abstained": bool(answer.abstained),
        "citation_check": citation_check(answer),
        "citations": len(answer.citations or []),
        "flags": list(answer.flags or []),
        "passages": [p.to_dict() for p in passages_of(answer)],
        "answer": str(answer.text or "")[:ANSWER_CHARS],
        "source": source,
        "reask_of": reask_of,
    }


_COLUMNS = ("asked_at", "question", "rewritten", "model", "seconds", "first_token_s",
            "abstained", "citation_check", "citations", "flags", "passages", "answer", "source",
            "reask_of")


def _record(r: sqlite3.Row | tuple) -> QuestionRecord:
    (qid, asked_at, question, rewritten, model, seconds, first, abstained, check, citations,
     flags, passages, answer, source, reask_of, resolved_at, resolved_by, resolution) = r
    try:
        plist = tuple(Passage(**p) for p in json.loads(passages or "[]"))
    except (TypeError, ValueError):
        plist = ()
    try:
        flist = tuple(json.loads(flags or "[]"))
    except ValueError:
        flist = ()
    return QuestionRecord(
        id=int(qid), asked_at=float(asked_at), question=question, rewritten=rewritten or "",
        model=model or "", seconds=seconds, first_token_s=first, abstained=bool(abstained),
        check=check, citations=int(citations or 0), flags=flist, passages=plist,
        answer=answer or "", source=source or SOURCE_APP, reask_of=reask_of,
        resolved_at=resolved_at, resolved_by=resolved_by, resolution=resolution or "")


# -- SQLite, safe with several writers ------------------------------------------------------------


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


# -- the log --------------------------------------------------------------------------------------


def text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).lower().encode("utf-8")).hexdigest()


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
                for c in _COLUMNS:
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
                    f"INSERT INTO questions ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})", vals)
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
        return [_record(r) for r in rows]

    def get(self, qid: int) -> QuestionRecord | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT * FROM questions WHERE id = ?", (int(qid),)).fetchone()
        return _record(row) if row else None

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


# -- aggregations (pure) ----------------------------------------------------------------------------


def frame(records: Sequence[QuestionRecord]):
    """The records as a table: one row a question, with its day and outcome."""
    import pandas as pd

    cols = ["id", "asked_at", "day", "question", "rewritten", "model", "seconds",
            "first_token_s", "outcome", "citation_check", "resolved", "source"]
    rows = [{
        "id": r.id, "asked_at": datetime.fromtimestamp(r.asked_at),
        "day": datetime.fromtimestamp(r.asked_at).date(), "question": r.question,
        "rewritten": r.rewritten, "model": r.model, "seconds": r.seconds,
        "first_token_s": r.first_token_s, "outcome": r.outcome, "citation_check": r.check,
        "resolved": r.resolved, "source": r.source,
    } for r in records]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"seconds": "float64", "first_token_s": "float64"})


def daily_counts(records: Sequence[QuestionRecord], days: int | None = None,
                 today: date | None = None):
    """Questions per day by outcome (every day of the range, zeros included).

    Columns: day, answered, flagged, abstained, total. `days` keeps the last n days ending
    `today` (default: the span of the log).
    """
    import pandas as pd

    cols = ["day", *OUTCOMES, "total"]
    if not records and days is None:
        return pd.DataFrame(columns=cols)
    per: dict[date, dict[str, int]] = {}
    for r in records:
        d = datetime.fromtimestamp(r.asked_at).date()
        per.setdefault(d, dict.fromkeys(OUTCOMES, 0))[r.outcome] += 1
    end = today or (max(per) if per else date.today())
    start = end - timedelta(days=days - 1) if days else min(per)
    rows = []
    d = start
    while d <= end:
        c = per.get(d, dict.fromkeys(OUTCOMES, 0))
        rows.append({"day": d, **c, "total": sum(c.values())})
        d += timedelta(days=1)
    return pd.DataFrame(rows, columns=cols)


def outcome_shares(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    """How many questions, and the share answered, flagged and abstained."""
    n = len(records)
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in records:
        counts[r.outcome] += 1
    out: dict[str, Any] = {"questions": n, **counts}
    for k in OUTCOMES:
        out[f"share_{k}"] = counts[k] / n if n else 0.0
    out["open_unanswered"] = sum(1 for r in records if r.unanswered and not r.resolved)
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation) or None without values."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def latency_stats(records: Sequence[QuestionRecord]) -> dict[str, Any]:
    """Answer time percentiles (seconds), over all questions and over those the model answered."""
    secs = [r.seconds for r in records if r.seconds is not None]
    model = [r.seconds for r in records if r.seconds is not None and r.first_token_s is not None]
    first = [r.first_token_s for r in records if r.first_token_s is not None]
    return {
        "n": len(secs),
        "p50": percentile(secs, 50), "p90": percentile(secs, 90), "p95": percentile(secs, 95),
        "max": max(secs) if secs else None,
        "mean": sum(secs) / len(secs) if secs else None,
        "model_p50": percentile(model, 50), "model_p90": percentile(model, 90),
        "first_token_p50": percentile(first, 50),
    }


def daily_latency(records: Sequence[QuestionRecord], days: int | None = None,
                  today: date | None = None):
    """Per day: questions timed, median and 90th percentile of the answer time."""
    import pandas as pd

    by_day: dict[date, list[float]] = {}
    for r in records:
        if r.seconds is not None:
            by_day.setdefault(datetime.fromtimestamp(r.asked_at).date(), []).append(r.seconds)
    cols = ["day", "questions", "p50_s", "p90_s"]
    if not by_day:
        return pd.DataFrame(columns=cols)
    end = today or max(by_day)
    start = end - timedelta(days=days - 1) if days else min(by_day)
    rows = [{"day": d, "questions": len(v), "p50_s": percentile(v, 50),
             "p90_s": percentile(v, 90)} for d, v in sorted(by_day.items()) if start <= d <= end]
    return pd.DataFrame(rows, columns=cols)


def period_change(records: Sequence[QuestionRecord], days: int = 7,
                  now: float | None = None) -> tuple[int, int]:
    """Questions asked in the last `days` days and in the `days` before them."""
    now = time.time() if now is None else now
    span = days * 86400.0
    recent = sum(1 for r in records if now - span < r.asked_at <= now)
    before = sum(1 for r in records if now - 2 * span < r.asked_at <= now - span)
    return recent, before


# -- topics ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A group of similar questions: its name, top terms and members (most typical first)."""

    id: int
    name: str
    terms: list[str]
    members: list[int] = field(default_factory=list)  # positions in the input

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def is_other(self) -> bool:
        return self.id < 0


def _greedy_labels(X) -> list[int]:
    """Too few items to cluster: each joins the first group whose seed is similar enough."""
    import numpy as np

    seeds: list[int] = []
    labels = []
    for i in range(len(X)):
        sims = [float(np.dot(X[i], X[s])) for s in seeds]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= GREEDY_SIMILARITY:
            labels.append(best)
        else:
            seeds.append(i)
            labels.append(len(seeds) - 1)
    return labels


def _topics_from_labels(texts: Sequence[str], X, labels, names: dict[int, str] | None = None,
                        topic_terms: dict[int, list[str]] | None = None) -> list[Topic]:
    """Topics from labels: members by typicality, terms by c-TF-IDF, names from the terms."""
    import numpy as np

    from rag.analytics import clustering, terms

    labels = np.asarray(labels, dtype=int)
    if topic_terms is None:
        topic_terms = terms.ctfidf_terms(list(texts), labels)
    _, typ = clustering.centroid_stats(X, labels) if len(X) else (None, np.zeros(0))
    out = []
    for tid in sorted({int(v) for v in labels}, key=lambda t: (t < 0, t)):
        members = np.flatnonzero(labels == tid)
        order = [int(i) for i in members[np.argsort(-typ[members], kind="stable")]]
        tt = list((topic_terms or {}).get(tid, []))
        if tid < 0:
            name = OTHER_TOPIC
        elif names and names.get(tid):
            name = names[tid]
        else:
            name = terms.name_from_terms(tt, shorten_question(texts[order[0]], 50))
        out.append(Topic(id=tid, name=name, terms=tt, members=order))
    out.sort(key=lambda t: (t.is_other, -t.size, t.id))
    return _unique_names(out)


def _unique_names(topics: list[Topic]) -> list[Topic]:
    seen: dict[str, int] = {}
    out = []
    for t in topics:
        key = t.name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and not t.is_other:
            t = Topic(t.id, f"{t.name} ({seen[key]})", t.terms, t.members)
        out.append(t)
    return out


def shorten_question(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def find_topics(texts: Sequence[str], vectors, k: int | None = None, seed: int = 0
                ) -> tuple[list[Topic], Any, Any]:
    """Group questions by topic with the Feedback page's machinery.

    From `clustering.MIN_ITEMS` questions on, `clustering.cluster` (k chosen by silhouette,
    odd ones in Other) and c-TF-IDF terms; below that, a greedy grouping by similarity.
    Returns (topics, labels, centroids).
    """
    import numpy as np

    from rag.analytics import clustering

    X = clustering.normalize(np.asarray(vectors, dtype=np.float32))
    if len(texts) == 0:
        return [], np.zeros(0, dtype=int), np.zeros((0, X.shape[1] if X.ndim == 2 else 0))
    if len(texts) >= clustering.MIN_ITEMS:
        result = clustering.cluster(X, k=k, seed=seed)
        labels = result.labels
    else:
        labels = np.asarray(_greedy_labels(X), dtype=int)
    topics = _topics_from_labels(texts, X, labels)
    centroids, _ = clustering.centroid_stats(X, labels)
    return topics, labels, centroids


def cached_topics(log: QuestionLog, name: str, ids: Sequence[int], texts: Sequence[str],
                  vectors, model: str) -> list[Topic]:
    """`find_topics`, remembered in the log: re-clustered only when the set grew by a fifth.

    New questions since the last clustering join their nearest topic; a question that left
    the set (resolved, say) simply drops out. Full re-clustering happens when the model
    changed, or new questions exceed `RECLUSTER_GROWTH` of the clustered ones (and
    `RECLUSTER_MIN_NEW`), or more than that share left.
    """
    import numpy as np

    from rag.analytics import clustering

    X = clustering.normalize(np.asarray(vectors, dtype=np.float32))
    ids = [int(i) for i in ids]
    cache = log.cache_get(name)
    if cache and cache.get("model") == model and cache.get("labels") and len(ids):
        known = dict(zip(cache["ids"], cache["labels"], strict=True))
        new = [i for i, q in enumerate(ids) if q not in known]
        gone = len(set(known) - set(ids))
        base = max(1, len(known))
        C = np.asarray(cache["centroids"], dtype=np.float32)
        fits = C.ndim == 2 and len(C) and C.shape[1] == X.shape[1]
        if fits and len(new) <= max(RECLUSTER_MIN_NEW, RECLUSTER_GROWTH * base) and \
                gone <= RECLUSTER_GROWTH * base:
            labels = np.array([known.get(q, -2) for q in ids], dtype=int)
            if new:
                labels[new] = np.argmax(X[new] @ C.T, axis=1)
            names = {int(k): v for k, v in cache.get("names", {}).items()}
            tterms = {int(k): v for k, v in cache.get("terms", {}).items()}
            return _topics_from_labels(texts, X, labels, names, tterms)
    topics, labels, centroids = find_topics(texts, X)
    log.cache_put(name, {
        "model": model, "ids": ids, "labels": [int(v) for v in labels],
        "centroids": np.round(centroids, 5).tolist(),
        "names": {str(t.id): t.name for t in topics if not t.is_other},
        "terms": {str(t.id): t.terms for t in topics},
        "at": time.time(),
    })
    return topics


@dataclass(frozen=True)
class UnansweredGroup:
    """Unanswered questions of one topic, newest first."""

    topic: Topic
    records: list[QuestionRecord]

    @property
    def documents(self) -> list[tuple[str, int]]:
        """The documents their closest passages come from, with how often (most first)."""
        counts: dict[str, int] = {}
        for r in self.records:
            for name in dict.fromkeys(p.doc_name for p in r.passages):
                counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def open_unanswered(records: Sequence[QuestionRecord]) -> list[QuestionRecord]:
    """Unanswered questions not marked resolved; a question asked again keeps its newest."""
    settled: dict[str, float] = {}  # text -> last time it was answered or resolved
    latest: dict[str, QuestionRecord] = {}
    for r in sorted(records, key=lambda r: (r.asked_at, r.id)):
        key = text_key(r.topic_text)
        if r.outcome == ANSWERED or r.resolved:
            settled[key] = r.asked_at
        else:
            latest[key] = r
    return sorted((r for k, r in latest.items() if settled.get(k, -1.0) < r.asked_at),
                  key=lambda r: (-r.asked_at, -r.id))


UNGROUPED = Topic(id=-2, name="Not grouped yet", terms=[])


def topic_index(ids: Sequence[int], topics: Sequence[Topic]) -> dict[int, Topic]:
    """Question id -> its topic (topics' members are positions in `ids`)."""
    return {int(ids[m]): t for t in topics for m in t.members}


def group_unanswered(unanswered: Sequence[QuestionRecord], topic_of: dict[int, Topic]
                     ) -> list[UnansweredGroup]:
    """Unanswered questions grouped by their topic, largest group first (Other last).

    Questions without a topic yet (their vector is not computed) form a last group.
    """
    by_topic: dict[int, list[QuestionRecord]] = {}
    topics: dict[int, Topic] = {}
    for r in unanswered:
        t = topic_of.get(r.id, UNGROUPED)
        topics[t.id] = t
        by_topic.setdefault(t.id, []).append(r)
    groups = [UnansweredGroup(topics[tid], sorted(recs, key=lambda r: (-r.asked_at, -r.id)))
              for tid, recs in by_topic.items()]
    groups.sort(key=lambda g: (g.topic.id == UNGROUPED.id, g.topic.is_other, -len(g.records),
                               g.topic.name))
    return groups


def topics_frame(topics: Sequence[Topic], texts: Sequence[str],
                 unanswered: dict[int, int] | None = None):
    """One row a topic: name, questions, share, open unanswered, top terms, a typical question."""
    import pandas as pd

    n = sum(t.size for t in topics) or 1
    rows = [{"topic": t.name, "questions": t.size, "share": round(t.size / n, 4),
             "unanswered": (unanswered or {}).get(t.id, 0),
             "terms": ", ".join(t.terms[:6]),
             "typical question": texts[t.members[0]] if t.members else ""} for t in topics]
    return pd.DataFrame(rows, columns=["topic", "questions", "share", "unanswered", "terms",
                                       "typical question"])


def unanswered_frame(groups: Sequence[UnansweredGroup]):
    """Every open unanswered question with its topic, outcome and closest passages."""
    import pandas as pd

    rows = []
    for g in groups:
        for r in g.records:
            rows.append({
                "topic": g.topic.name, "question": r.question,
                "asked": datetime.fromtimestamp(r.asked_at).strftime("%Y-%m-%d %H:%M"),
                "outcome": r.outcome, "model": r.model,
                "closest passages": "; ".join(f"{p.doc_name}, {p.location}"
                                              for p in r.passages[:3]),
                "id": r.id,
            })
    return pd.DataFrame(rows, columns=["topic", "question", "asked", "outcome", "model",
                                       "closest passages", "id"])
