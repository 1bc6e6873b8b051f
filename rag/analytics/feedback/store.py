"""Analyses saved with the workspace on the storage port (`rag.storage`: SQLite in the data
directory, or the shared database of RAG_DATABASE_URL), valid only for the document version
analysed."""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from rag.analytics.feedback.model import (
    FORMAT_VERSION,
    Analysis,
    FeedbackError,
    Item,
    Roles,
    Theme,
)
from rag.storage.db import DataDirStore
from rag.storage.tables import analyses
from rag.storage.upsert import upsert
from rag.types import DocumentInfo

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Earlier runs of a document are rows of the same table under "<doc_id>.run.<run_id>" (no
# schema change); the newest `KEEP_RUNS` are kept.
_RUN_SEP = ".run."
KEEP_RUNS = 6


def fingerprint(doc: DocumentInfo, embed_model: str) -> str:
    """What must not change for a stored analysis to still hold."""
    return f"{doc.doc_id}|{doc.chunks}|{doc.added_at:.6f}|{embed_model}"


def to_json(a: Analysis) -> dict[str, Any]:
    columns = sorted({c for it in a.items for c in it.fields})
    return {
        "version": FORMAT_VERSION,
        "source": a.source, "roles": asdict(a.roles), "k": a.k, "k_auto": a.k_auto,
        "scores": {str(k): round(v, 5) for k, v in a.scores.items()},
        "created_at": a.created_at, "seconds": a.seconds, "notes": a.notes,
        "items": {
            "row": [it.row for it in a.items], "text": [it.text for it in a.items],
            "chunk_ids": [list(it.chunk_ids) for it in a.items],
            "date": [it.date for it in a.items],
            "fields": {c: [it.fields.get(c) for it in a.items] for c in columns},
        },
        "labels": a.labels, "typicality": a.typicality, "coords": a.coords,
        "dates": a.dates, "ratings": a.ratings,
        "themes": [asdict(t) for t in a.themes],
        "headlines": [asdict(t) for t in a.headlines],
        "centroids": {str(k): v for k, v in a.centroids.items()},
        "sentiments": a.sentiments, "sentiment_source": a.sentiment_source,
        "run_id": a.run_id, "previous_run": a.previous_run,
    }


def from_json(d: dict[str, Any]) -> Analysis:
    if d.get("version") != FORMAT_VERSION:
        raise ValueError("another format version")
    it = d["items"]
    fields = it.get("fields", {})
    items = [Item(row=it["row"][i], text=it["text"][i], chunk_ids=tuple(it["chunk_ids"][i]),
                  date=it["date"][i],
                  fields={c: vals[i] for c, vals in fields.items() if vals[i] is not None})
             for i in range(len(it["text"]))]
    return Analysis(
        items=items, labels=list(d["labels"]), typicality=list(d["typicality"]),
        coords=list(d["coords"]), themes=[Theme(**t) for t in d["themes"]],
        roles=Roles(**d["roles"]), dates=list(d["dates"]), ratings=list(d["ratings"]),
        k=int(d["k"]), k_auto=int(d["k_auto"]),
        scores={int(k): float(v) for k, v in d.get("scores", {}).items()},
        source=dict(d.get("source", {})), created_at=float(d.get("created_at", 0)),
        seconds=dict(d.get("seconds", {})), notes=list(d.get("notes", [])),
        headlines=[Theme(**t) for t in d.get("headlines", [])],
        centroids={int(k): list(v) for k, v in d.get("centroids", {}).items()},
        sentiments=list(d.get("sentiments", [])),
        sentiment_source=str(d.get("sentiment_source", "")),
        run_id=str(d.get("run_id", "")), previous_run=d.get("previous_run"),
    )


class AnalysisStore(DataDirStore):
    """Saved analyses, one per workspace collection and feedback document."""

    @staticmethod
    def key(collection: str, doc_id: str) -> dict[str, str]:
        if not _SAFE_ID.match(collection or "") or not _SAFE_ID.match(doc_id or ""):
            raise FeedbackError("invalid workspace or document id")
        return {"workspace": collection, "doc_id": doc_id}

    def _ready(self, collection: str) -> Engine:
        """The engine, with this workspace's analysis files of an earlier release imported
        (`analytics/<collection>/<doc_id>.json`)."""
        from rag.storage.legacy import import_once

        folder = self.data_dir / "analytics" / collection
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            import_once(self.engine, path,
                        functools.partial(self._import_legacy, collection=collection, path=path))
        return self.engine

    def save(self, collection: str, doc_id: str, a: Analysis) -> None:
        """Store an analysis whole (replacing the document's current one) and, under its run
        id, in the document's run history (the newest `KEEP_RUNS` runs are kept)."""
        payload = json.dumps(to_json(a), ensure_ascii=False)
        now = time.time()
        row = {**self.key(collection, doc_id),
               "fingerprint": str(a.source.get("fingerprint", "")), "saved_at": now,
               "payload": payload}
        rows = [row]
        if a.run_id:
            rows.append({**row, **self.key(collection, f"{doc_id}{_RUN_SEP}{a.run_id}")})
        with self._ready(collection).begin() as con:
            upsert(con, analyses, rows)
            old = con.execute(select(analyses.c.doc_id).where(
                analyses.c.workspace == collection,
                analyses.c.doc_id.startswith(f"{doc_id}{_RUN_SEP}", autoescape=True))
                .order_by(analyses.c.saved_at.desc(), analyses.c.doc_id.desc())).scalars().all()
            for stale in old[KEEP_RUNS:]:
                con.execute(delete(analyses).where(analyses.c.workspace == collection,
                                                   analyses.c.doc_id == stale))

    def runs(self, collection: str, doc_id: str) -> list[dict[str, Any]]:
        """The document's stored runs, newest first: run id and when it was saved."""
        self.key(collection, doc_id)
        with self._ready(collection).connect() as con:
            rows = con.execute(select(analyses.c.doc_id, analyses.c.saved_at).where(
                analyses.c.workspace == collection,
                analyses.c.doc_id.startswith(f"{doc_id}{_RUN_SEP}", autoescape=True))
                .order_by(analyses.c.saved_at.desc(), analyses.c.doc_id.desc())).all()
        return [{"run_id": r.doc_id.split(_RUN_SEP, 1)[1], "saved_at": r.saved_at}
                for r in rows]

    def load_run(self, collection: str, doc_id: str, run_id: str | None = None
                 ) -> Analysis | None:
        """A stored run of the document, whatever version of it was analysed (None: absent
        or unreadable); without `run_id`, the document's current analysis."""
        key = self.key(collection, f"{doc_id}{_RUN_SEP}{run_id}" if run_id else doc_id)
        with self._ready(collection).connect() as con:
            payload = con.execute(select(analyses.c.payload).where(
                *(analyses.c[k] == v for k, v in key.items()))).scalar()
        if payload is None:
            return None
        try:
            return from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError):
            return None

    def saved_at(self, collection: str, doc_id: str) -> float | None:
        """When the document's analysis was last saved (None: never), for caches."""
        key = self.key(collection, doc_id)
        with self._ready(collection).connect() as con:
            return con.execute(select(analyses.c.saved_at).where(
                *(analyses.c[k] == v for k, v in key.items()))).scalar()

    def load(self, collection: str, doc: DocumentInfo, embed_model: str) -> Analysis | None:
        """The saved analysis of this exact document version, or None (absent, stale, bad)."""
        try:
            key = self.key(collection, doc.doc_id)
            with self._ready(collection).connect() as con:
                payload = con.execute(select(analyses.c.payload).where(
                    *(analyses.c[k] == v for k, v in key.items()))).scalar()
            if payload is None:
                return None
            a = from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError, FeedbackError):
            return None
        if a.source.get("fingerprint") != fingerprint(doc, embed_model):
            return None
        return a

    def latest_named(self, collection: str, doc_name: str) -> Analysis | None:
        """The newest current analysis in the workspace of a document of this name (an
        export added again replaces its document under a new id; its last analysis is
        what a re-run is matched to)."""
        if not _SAFE_ID.match(collection or ""):
            raise FeedbackError("invalid workspace or document id")
        with self._ready(collection).connect() as con:
            rows = con.execute(select(analyses.c.doc_id, analyses.c.payload).where(
                analyses.c.workspace == collection,
                analyses.c.doc_id.not_like(f"%{_RUN_SEP}%"))
                .order_by(analyses.c.saved_at.desc())).all()
        for row in rows:
            try:
                d = json.loads(row.payload)
                if (d.get("source") or {}).get("doc_name") == doc_name:
                    return from_json(d)
            except (ValueError, KeyError, TypeError):
                continue
        return None

    def delete(self, collection: str, doc_id: str) -> None:
        """Forget the document's analysis and its run history."""
        key = self.key(collection, doc_id)
        with self._ready(collection).begin() as con:
            con.execute(delete(analyses).where(
                *(analyses.c[k] == v for k, v in key.items())))
            con.execute(delete(analyses).where(
                analyses.c.workspace == collection,
                analyses.c.doc_id.startswith(f"{doc_id}{_RUN_SEP}", autoescape=True)))

    def _import_legacy(self, con, collection: str, path: Path) -> None:
        payload = path.read_text(encoding="utf-8")
        d = json.loads(payload)
        fp = str((d.get("source") or {}).get("fingerprint", ""))
        con.execute(insert(analyses).values(**self.key(collection, path.stem), fingerprint=fp,
                                            saved_at=path.stat().st_mtime, payload=payload))


def source_of(ws, doc: DocumentInfo) -> dict[str, Any]:
    return {"workspace": ws.name, "collection": ws.collection_name, "doc_id": doc.doc_id,
            "doc_name": doc.name, "embed_model": ws.embed_model,
            "fingerprint": fingerprint(doc, ws.embed_model)}

