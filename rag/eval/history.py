"""Evaluation runs kept over time, per workspace, on the storage port (`rag.storage`: SQLite in
the data directory, or the shared database of RAG_DATABASE_URL).

One row a run: when, which set, k, recall@k, MRR, the embedding model and settings, and the
per-question results, so the dashboard can chart quality across changes of model or chunking.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlalchemy import insert, select

from rag.eval.retrieval import EvalRun
from rag.storage.legacy import WorkspaceState
from rag.storage.tables import eval_runs

LEGACY_NAME = "eval.sqlite"
"""The per-workspace file of earlier releases, imported into the port on first use."""
_RUN_COLUMNS = ("created_at", "set_name", "k", "questions", "recall", "mrr", "embed_model",
                "settings", "seconds", "result")


class EvalHistory(WorkspaceState):
    """The evaluation runs of one workspace."""

    legacy_name = LEGACY_NAME

    def add(self, run: EvalRun) -> int:
        d = run.to_dict()
        with self.engine.begin() as con:
            res = con.execute(insert(eval_runs).values(
                workspace=self.collection, created_at=run.created_at, set_name=run.set_name,
                k=run.k, questions=run.questions, recall=run.recall, mrr=run.mrr,
                embed_model=run.embed_model, settings=json.dumps(run.settings, default=str),
                seconds=run.seconds, result=json.dumps(d, ensure_ascii=False, default=str)))
        key = res.inserted_primary_key
        assert key is not None  # an INSERT of one row has its key
        return int(key[0])

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, without the per-question results."""
        r = eval_runs.c
        with self.engine.connect() as con:
            rows = con.execute(select(r.id, r.created_at, r.set_name, r.k, r.questions, r.recall,
                                      r.mrr, r.embed_model, r.settings, r.seconds)
                               .where(r.workspace == self.collection)
                               .order_by(r.created_at, r.id)).all()
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
        r = eval_runs.c
        with self.engine.connect() as con:
            payload = con.execute(select(r.result).where(
                r.workspace == self.collection, r.id == int(run_id))).scalar()
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            return None

    def _import_legacy(self, con) -> None:
        old = sqlite3.connect(f"file:{self.legacy_path}?mode=ro", uri=True, timeout=30.0)
        try:
            if not old.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
                return
            rows = [dict(zip(_RUN_COLUMNS, r, strict=True), workspace=self.collection)
                    for r in old.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs "
                                         "ORDER BY id")]
        finally:
            old.close()
        if rows:
            con.execute(insert(eval_runs), rows)


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
