"""Briefs saved with the workspace, one JSON file per document, kind and model.

Files live under `<data_dir>/analytics/<collection>/summaries/`. A brief is shown again only
while its document is unchanged (same id, chunk count and ingest time: the fingerprint).
Writes are atomic: readers see the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.analytics.export import write_json_atomic
from rag.analytics.summaries.brief import Brief, fingerprint
from rag.errors import RagError
from rag.types import DocumentInfo

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
EXTRACTIVE = "extractive"


def _model_slug(model_name: str) -> str:
    return hashlib.sha1((model_name or EXTRACTIVE).encode()).hexdigest()[:10]


class SummaryStore:
    """Saved briefs of a data directory, by workspace collection."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "analytics"

    def folder(self, collection: str) -> Path:
        if not _SAFE_ID.match(collection):
            raise RagError("invalid workspace name for a stored summary")
        return self.root / collection / "summaries"

    def path(self, collection: str, doc_id: str, kind: str, model_name: str) -> Path:
        if not _SAFE_ID.match(doc_id) or not re.fullmatch(r"[a-z]+", kind):
            raise RagError("invalid document id or kind for a stored summary")
        return self.folder(collection) / f"{doc_id}.{kind}.{_model_slug(model_name)}.json"

    def save(self, collection: str, brief: Brief) -> Path:
        """Store a brief (replacing the one of the same document, kind and model)."""
        path = self.path(collection, brief.doc_id, brief.kind, brief.model)
        return write_json_atomic(path, brief.to_dict())

    def _read(self, path: Path) -> Brief | None:
        try:
            return Brief.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load(self, collection: str, doc: DocumentInfo, kind: str, model_name: str
             ) -> Brief | None:
        """The stored brief of this exact document version, or None (absent, stale, bad)."""
        try:
            path = self.path(collection, doc.doc_id, kind, model_name)
        except RagError:
            return None
        if not path.exists():
            return None
        b = self._read(path)
        if b is None or b.fingerprint != fingerprint(doc):
            return None
        return b

    def load_compare(self, collection: str, a: DocumentInfo, b: DocumentInfo,
                     model_name: str) -> Brief | None:
        """The stored comparison of these two document versions, or None."""
        try:
            path = self.path(collection, f"{a.doc_id}-vs-{b.doc_id}", "compare", model_name)
        except RagError:
            return None
        c = self._read(path) if path.exists() else None
        if c is None or c.fingerprint != f"{fingerprint(a)}||{fingerprint(b)}":
            return None
        return c

    def latest(self, collection: str, doc: DocumentInfo) -> Brief | None:
        """The newest fresh brief of a document, whatever its kind and model."""
        fresh = [b for b in self._briefs(collection)
                 if b.doc_id == doc.doc_id and b.fingerprint == fingerprint(doc)]
        return max(fresh, key=lambda b: b.created_at, default=None)

    def _briefs(self, collection: str) -> list[Brief]:
        folder = self.folder(collection)
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.glob("*.json")):
            b = self._read(p)
            if b is not None:
                out.append(b)
        return out

    def list(self, collection: str, docs: Sequence[DocumentInfo] | None = None
             ) -> list[dict[str, Any]]:
        """Every stored brief as a JSON-able dict, newest first.

        Keys include doc_id, doc_name, kind, created_at, figures, guidance, action_items (see
        `Brief`). With `docs`, briefs whose document changed or is gone are left out.
        """
        briefs = self._briefs(collection)
        if docs is not None:
            fps = {fingerprint(d) for d in docs}
            briefs = [b for b in briefs if all(part in fps for part in b.fingerprint.split("||"))]
        return [b.to_dict() for b in sorted(briefs, key=lambda b: -b.created_at)]

    def delete(self, collection: str, doc_id: str) -> int:
        """Remove every stored brief of a document (and comparisons with it)."""
        folder = self.folder(collection)
        n = 0
        if folder.is_dir():
            for p in folder.glob("*.json"):
                if p.name.startswith(doc_id + ".") or f"-vs-{doc_id}." in p.name \
                        or p.name.startswith(doc_id + "-vs-"):
                    p.unlink(missing_ok=True)
                    n += 1
        return n
