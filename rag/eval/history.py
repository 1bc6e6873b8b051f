"""Evaluation runs kept over time, per workspace, next to its question log.

`<data_dir>/analytics/<collection>/eval.sqlite` (WAL, safe with several writers) holds one row
a run: when, which set, k, recall@k, MRR, the embedding model and settings, and the
per-question results, so the dashboard can chart quality across changes of model or chunking.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rag.eval.retrieval import EvalRun
from rag.storage.sqlite import open_sqlite, write_sqlite

DB_NAME = "eval.sqlite"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    set_name TEXT NOT NULL DEFAULT '',
    k INTEGER NOT NULL,
    questions INTEGER NOT NULL,
    recall REAL NOT NULL,
    mrr REAL NOT NULL,
    embed_model TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    seconds REAL NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
"""


class EvalHistory:
    """The evaluation runs of one workspace."""

    def __init__(self, data_dir: Path | str, collection: str) -> None:
        if not _SAFE.match(collection or ""):
            raise ValueError(f"invalid workspace collection name: {collection!r}")
        self.path = Path(data_dir) / "analytics" / collection / DB_NAME

    def add(self, run: EvalRun) -> int:
        d = run.to_dict()
        with write_sqlite(self.path, _SCHEMA) as con:
            cur = con.execute(
                "INSERT INTO runs (created_at, set_name, k, questions, recall, mrr, embed_model, "
                "settings, seconds, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.created_at, run.set_name, run.k, run.questions, run.recall, run.mrr,
                 run.embed_model, json.dumps(run.settings, default=str), run.seconds,
                 json.dumps(d, ensure_ascii=False, default=str)))
            return int(cur.lastrowid or 0)

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, without the per-question results."""
        if not self.path.exists():
            return []
        with open_sqlite(self.path, _SCHEMA) as con:
            rows = con.execute("SELECT id, created_at, set_name, k, questions, recall, mrr, "
                               "embed_model, settings, seconds FROM runs "
                               "ORDER BY created_at, id").fetchall()
        out = []
        for rid, at, name, k, n, recall, mrr, model, settings, secs in rows:
            try:
                extra = json.loads(settings or "{}")
            except ValueError:
                extra = {}
            out.append({"id": rid, "created_at": at, "set": name, "k": k, "questions": n,
                        "recall": recall, "mrr": mrr, "embed_model": model,
                        "settings": extra, "seconds": secs})
        return out

    def result(self, run_id: int) -> dict[str, Any] | None:
        """A run's full JSON (as `ragdesk eval --json` prints it)."""
        if not self.path.exists():
            return None
        with open_sqlite(self.path, _SCHEMA) as con:
            row = con.execute("SELECT result FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        try:
            return json.loads(row[0]) if row else None
        except ValueError:
            return None


def runs_frame(runs: list[dict[str, Any]]):
    """The runs as a table: when, set, k, questions, recall@k, MRR, model, chunk size."""
    from datetime import datetime

    import pandas as pd

    rows = [{"run": r["id"],
             "when": datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M"),
             "set": r["set"], "k": r["k"], "questions": r["questions"],
             "recall@k": round(r["recall"], 4), "MRR": round(r["mrr"], 4),
             "embedding model": r["embed_model"],
             "chunk chars": r["settings"].get("chunk_chars")} for r in runs]
    return pd.DataFrame(rows, columns=["run", "when", "set", "k", "questions", "recall@k", "MRR",
                                       "embedding model", "chunk chars"])
