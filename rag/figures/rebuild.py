"""Read the figures of documents stored before figure extraction existed, from their chunks.

A workspace built by an earlier release has chunks but no cells; re-reading the original files
is not possible (they are not kept), so the page texts are put back together from the stored
chunks (one page's chunks in order) and read as at ingestion.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.figures.extract import extract_cells
from rag.types import Chunk, DocumentInfo, ParsedDocument, Unit


def _units(chunks: list[Chunk]) -> tuple[Unit, ...]:
    pages: dict[int, list[str]] = {}
    units: list[Unit] = []
    for c in sorted(chunks, key=lambda c: c.ordinal):
        if c.page is not None:
            pages.setdefault(c.page, []).append(c.text)
        else:
            units.append(Unit(text=c.text, row=c.row, speaker=c.speaker, heading=c.heading,
                              turn=c.turn_start, meta=dict(c.meta)))
    units += [Unit(text="\n".join(parts), page=p) for p, parts in sorted(pages.items())]
    return tuple(units)


def rebuild(ws, store, docs: list[DocumentInfo] | None = None,
            progress: Callable[[float, str], None] | None = None) -> int:
    """Cells for every ready document that has none; returns how many documents were read."""
    todo = [d for d in (docs if docs is not None else ws.documents()) if not store.has(d.doc_id)]
    for i, d in enumerate(todo):
        if progress:
            progress(i / max(1, len(todo)), f"reading figures of {d.name}")
        doc = ParsedDocument(filename=d.filename, name=d.name, kind=d.kind,  # type: ignore[arg-type]
                             units=_units(ws.chunks_of(d.doc_id)), content_hash=d.doc_id,
                             size=d.size, meta=dict(d.meta))
        store.put(d.doc_id, extract_cells(doc, d.doc_id))
    if progress:
        progress(1.0, f"figures read from {len(todo)} document(s)")
    return len(todo)
