"""Feedback items: table rows (or a table document's chunks) -> `Item`s, and the checks on them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.analytics import clustering
from rag.analytics.feedback.model import FeedbackError, Item
from rag.text.columns import meta_key
from rag.types import Chunk, DocumentInfo, Scalar

_NUMERIC = re.compile(r"^[\s$€£%+\-.,:/()\d]*$")


def check_texts(texts: Sequence[str], column: str) -> None:
    """Refuse a text column that is empty, too short to cluster, or mostly numbers/dates."""
    filled = [t for t in texts if t and t.strip()]
    if not filled:
        raise FeedbackError(f"the text column '{column}' is empty in every row")
    numeric = sum(1 for t in filled if _NUMERIC.match(t))
    if numeric / len(filled) >= 0.5:
        raise FeedbackError(
            f"the column '{column}' holds mostly numbers or dates ({numeric} of {len(filled)} "
            "values): pick the column with the feedback text"
        )
    if len(filled) < clustering.MIN_ITEMS:
        raise FeedbackError(
            f"only {len(filled)} rows have text in '{column}': at least "
            f"{clustering.MIN_ITEMS} are needed to find themes"
        )


def items_from_rows(header: list[str], rows: list[list[str]], text_column: str
                    ) -> tuple[list[Item], list[int]]:
    """Table rows -> items (rows with text) and, per input row, its item position or -1."""
    if text_column not in header:
        raise FeedbackError(f"column '{text_column}' not found; columns are: "
                            + ", ".join(header))
    tj = header.index(text_column)
    items: list[Item] = []
    position: list[int] = []
    for i, r in enumerate(rows):
        text = r[tj].strip() if tj < len(r) else ""
        if not text:
            position.append(-1)
            continue
        fields: dict[str, Scalar] = {c: r[j].strip() for j, c in enumerate(header)
                  if j != tj and j < len(r) and r[j].strip()}
        position.append(len(items))
        items.append(Item(row=i + 1, text=text, fields=fields))
    return items, position


def items_from_chunks(doc: DocumentInfo, chunks: Sequence[Chunk], vectors: np.ndarray
                      ) -> tuple[list[Item], np.ndarray]:
    """A table document's chunks -> one item a row (a long row's pieces joined, vectors
    averaged) with its cells by column name."""
    columns: list[str] = list(doc.meta.get("columns") or [])
    keys: dict[str, str] = dict(doc.meta.get("column_keys") or {c: meta_key(c) for c in columns})
    by_key = {k: c for c, k in keys.items()}
    text_col = doc.meta.get("text_column")
    groups: dict[Any, list[int]] = {}
    for i, c in enumerate(chunks):
        groups.setdefault(c.row if c.row is not None else f"chunk-{c.id}", []).append(i)
    items: list[Item] = []
    vecs = np.zeros((len(groups), vectors.shape[1] if vectors.ndim == 2 else 0),
                    dtype=np.float32)
    for n, idx in enumerate(groups.values()):
        first = chunks[idx[0]]
        fields = {by_key[k]: v for k, v in first.meta.items()
                  if k in by_key and by_key[k] != text_col}
        date = first.meta.get("date")
        items.append(Item(row=first.row, text="\n".join(chunks[i].text for i in idx),
                          chunk_ids=tuple(chunks[i].id for i in idx),
                          date=str(date)[:10] if date else None, fields=fields))
        if len(vecs):
            vecs[n] = vectors[idx].mean(axis=0)
    return items, clustering.normalize(vecs) if len(vecs) else vecs


def load_document(ws, doc: DocumentInfo) -> tuple[list[Item], np.ndarray]:
    """The items of a table document and the vectors retrieval uses for them."""
    if doc.kind != "table":
        raise FeedbackError(f"'{doc.name}' is not a table: feedback analysis needs a CSV or "
                            "Excel file with one comment per row")
    chunks, vectors = ws.embeddings_of(doc.doc_id)
    if not chunks:
        raise FeedbackError(f"'{doc.name}' has no stored rows: add the file again")
    return items_from_chunks(doc, chunks, vectors)
