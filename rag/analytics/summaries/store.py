"""Briefs saved with the workspace, one per document, kind and model, on the storage port
(`rag.storage`: SQLite in the data directory, or the shared database of RAG_DATABASE_URL, so
a brief written through one replica is shown by every replica).

A brief is shown again only while its document is unchanged (same id, chunk count and ingest
time: the fingerprint). Each save replaces the row whole in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, or_, select

from rag.analytics.summaries.brief import Brief, fingerprint
from rag.errors import RagError
from rag.storage.db import DataDirStore
from rag.storage.tables import briefs
from rag.storage.upsert import upsert
from rag.types import DocumentInfo

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
EXTRACTIVE = "extractive"
COMPARE = "compare"
LEGACY_FOLDER = "summaries"
"""`analytics/<collection>/summaries/*.json` of earlier releases, imported on first use."""


def _model_slug(model_name: str) -> str:
    return hashlib.sha1((model_name or EXTRACTIVE).encode()).hexdigest()[:10]


class SummaryStore(DataDirStore):
    """Saved briefs of a data directory's database, by workspace collection."""

    def _ready(self, collection: str) -> Engine:
        """The engine, with this workspace's brief files of an earlier release imported."""
        from rag.storage.legacy import import_once

        self.key(collection, "x", "x", "")
        folder = self.data_dir / "analytics" / collection / LEGACY_FOLDER
        import_once(self.engine, folder, lambda con: self._import_legacy(con, collection, folder))
        return self.engine

    @staticmethod
    def key(collection: str, doc_key: str, kind: str, model_name: str) -> dict[str, str]:
        """The row's primary key; refuses names that are not ids."""
        if not _SAFE_ID.match(collection or ""):
            raise RagError("invalid workspace name for a stored summary")
        if not _SAFE_ID.match(doc_key or "") and not _SAFE_ID.match(
                (doc_key or "").replace("-vs-", "", 1)[:200]):
            raise RagError("invalid document id or kind for a stored summary")
        if not re.fullmatch(r"[a-z]+", kind or ""):
            raise RagError("invalid document id or kind for a stored summary")
        return {"workspace": collection, "doc_key": doc_key, "kind": kind,
                "model_slug": _model_slug(model_name)}

    @staticmethod
    def _row(collection: str, b: Brief) -> dict[str, Any]:
        key = SummaryStore.key(collection, b.doc_id, b.kind, b.model)
        a, sep, other = b.doc_id.partition("-vs-")
        return {**key, "doc_a": a if b.kind == COMPARE and sep else b.doc_id,
                "doc_b": other if b.kind == COMPARE and sep else None,
                "fingerprint": b.fingerprint, "created_at": float(b.created_at or 0.0),
                "payload": json.dumps(b.to_dict(), ensure_ascii=False)}

    def save(self, collection: str, brief: Brief) -> None:
        """Store a brief (replacing the one of the same document, kind and model)."""
        row = self._row(collection, brief)
        engine = self._ready(collection)
        with engine.begin() as con:
            upsert(con, briefs, [row])

    @staticmethod
    def _parse(payload: str | None) -> Brief | None:
        try:
            return Brief.from_dict(json.loads(payload)) if payload else None
        except (ValueError, KeyError, TypeError):
            return None

    def _get(self, key: dict[str, str]) -> Brief | None:
        b = briefs.c
        with self._ready(key["workspace"]).connect() as con:
            payload = con.execute(select(b.payload).where(
                *(b[k] == v for k, v in key.items()))).scalar()
        return self._parse(payload)

    def load(self, collection: str, doc: DocumentInfo, kind: str, model_name: str
             ) -> Brief | None:
        """The stored brief of this exact document version, or None (absent, stale, bad)."""
        try:
            key = self.key(collection, doc.doc_id, kind, model_name)
        except RagError:
            return None
        b = self._get(key)
        if b is None or b.fingerprint != fingerprint(doc):
            return None
        return b

    def load_compare(self, collection: str, a: DocumentInfo, b: DocumentInfo,
                     model_name: str) -> Brief | None:
        """The stored comparison of these two document versions, or None."""
        try:
            key = self.key(collection, f"{a.doc_id}-vs-{b.doc_id}", COMPARE, model_name)
        except RagError:
            return None
        c = self._get(key)
        if c is None or c.fingerprint != f"{fingerprint(a)}||{fingerprint(b)}":
            return None
        return c

    def latest(self, collection: str, doc: DocumentInfo) -> Brief | None:
        """The newest fresh brief of a document, whatever its kind and model."""
        fresh = [b for b in self._briefs(collection, doc.doc_id)
                 if b.doc_id == doc.doc_id and b.fingerprint == fingerprint(doc)]
        return max(fresh, key=lambda b: b.created_at, default=None)

    def _briefs(self, collection: str, doc_id: str | None = None) -> list[Brief]:
        b = briefs.c
        q = select(b.payload).where(b.workspace == collection)
        if doc_id is not None:
            q = q.where(b.doc_key == doc_id)
        with self._ready(collection).connect() as con:
            rows = con.execute(q.order_by(b.doc_key, b.kind, b.model_slug)).scalars().all()
        return [x for x in map(self._parse, rows) if x is not None]

    def list(self, collection: str, docs: Sequence[DocumentInfo] | None = None
             ) -> list[dict[str, Any]]:
        """Every stored brief as a JSON-able dict, newest first.

        Keys include doc_id, doc_name, kind, created_at, figures, guidance, action_items (see
        `Brief`). With `docs`, briefs whose document changed or is gone are left out.
        """
        found = self._briefs(collection)
        if docs is not None:
            fps = {fingerprint(d) for d in docs}
            found = [b for b in found if all(part in fps for part in b.fingerprint.split("||"))]
        return [b.to_dict() for b in sorted(found, key=lambda b: -b.created_at)]

    def delete(self, collection: str, doc_id: str) -> int:
        """Remove every stored brief of a document (and comparisons with it)."""
        b = briefs.c
        with self._ready(collection).begin() as con:
            res = con.execute(delete(briefs).where(
                b.workspace == collection, or_(b.doc_a == doc_id, b.doc_b == doc_id)))
        return int(res.rowcount or 0)

    def _import_legacy(self, con, collection: str, folder: Path) -> None:
        rows = {}
        for p in sorted(folder.glob("*.json")):
            try:
                brief = Brief.from_dict(json.loads(p.read_text(encoding="utf-8")))
                row = self._row(collection, brief)
            except (OSError, ValueError, KeyError, TypeError, RagError):
                continue  # a damaged file was never shown either
            rows[tuple(row[k] for k in ("doc_key", "kind", "model_slug"))] = row
        if rows:
            con.execute(insert(briefs), list(rows.values()))
