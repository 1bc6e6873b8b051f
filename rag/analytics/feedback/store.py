"""Analyses saved next to the workspace, as JSON, valid only for the document version analysed."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.analytics.export import write_json_atomic
from rag.analytics.feedback.model import (
    FORMAT_VERSION,
    Analysis,
    FeedbackError,
    Item,
    Roles,
    Theme,
)
from rag.types import DocumentInfo

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


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
    )


class AnalysisStore:
    """Analyses saved as JSON under `<data_dir>/analytics/<collection>/<doc_id>.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "analytics"

    def path(self, collection: str, doc_id: str) -> Path:
        if not _SAFE_ID.match(collection) or not _SAFE_ID.match(doc_id):
            raise FeedbackError("invalid workspace or document id")
        return self.root / collection / f"{doc_id}.json"

    def save(self, collection: str, doc_id: str, a: Analysis) -> Path:
        """Write atomically: readers see the old file or the new one, never half of one."""
        path = self.path(collection, doc_id)
        return write_json_atomic(path, to_json(a))

    def load(self, collection: str, doc: DocumentInfo, embed_model: str) -> Analysis | None:
        """The saved analysis of this exact document version, or None (absent, stale, bad)."""
        try:
            path = self.path(collection, doc.doc_id)
            if not path.exists():
                return None
            a = from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, FeedbackError):
            return None
        if a.source.get("fingerprint") != fingerprint(doc, embed_model):
            return None
        return a

    def delete(self, collection: str, doc_id: str) -> None:
        self.path(collection, doc_id).unlink(missing_ok=True)


def source_of(ws, doc: DocumentInfo) -> dict[str, Any]:
    return {"workspace": ws.name, "collection": ws.collection_name, "doc_id": doc.doc_id,
            "doc_name": doc.name, "embed_model": ws.embed_model,
            "fingerprint": fingerprint(doc, ws.embed_model)}

