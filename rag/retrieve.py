"""Retrieval over a workspace: dense search (Chroma), restricted to ready documents."""

from __future__ import annotations

from typing import Any

from rag.index.embedder import Embedder
from rag.index.store import Workspace
from rag.types import Hit


class Retriever:
    """Finds the passages of a workspace that best match a query."""

    def __init__(self, workspace: Workspace, embedder: Embedder) -> None:
        self.workspace = workspace
        self.embedder = embedder

    def search(self, query: str, k: int = 5, where: dict[str, Any] | None = None,
               doc_ids: list[str] | None = None) -> list[Hit]:
        query = (query or "").strip()
        if not query:
            return []
        vec = self.embedder.embed([query])[0]
        return self.workspace.query(vec, k=k, where=where, doc_ids=doc_ids)
