"""Structure-aware chunking: pages, sections, speaker turns and rows are never cut blind.

Chunks never cross a page, a section heading or a table row, so every chunk can be cited
exactly. They do not overlap, so a document's text is the concatenation of its chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text.sentences import CHUNK
from rag.types import Chunk, ParsedDocument, Unit

_SENT_RE = CHUNK.pattern


def _pieces(text: str, limit: int) -> list[str]:
    """Cut text into pieces no longer than `limit`: paragraphs, then sentences, then words."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= limit:
            out.append(para)
            continue
        for sent in _split_lines_or_sentences(para):
            if len(sent) <= limit:
                out.append(sent)
            else:
                out.extend(_hard_wrap(sent, limit))
    return out


def _split_lines_or_sentences(para: str) -> list[str]:
    # PDF text layers put table cells on separate lines: prefer line breaks when present.
    parts = [p.strip() for p in para.split("\n") if p.strip()]
    if len(parts) > 1:
        return parts
    return [s.strip() for s in _SENT_RE.split(para) if s.strip()]


def _hard_wrap(text: str, limit: int) -> list[str]:
    words, out, cur = text.split(), [], ""
    for w in words:
        while len(w) > limit:  # a single enormous "word" (base64, a URL...)
            if cur:
                out.append(cur)
                cur = ""
            out.append(w[:limit])
            w = w[limit:]
        if cur and len(cur) + 1 + len(w) > limit:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        out.append(cur)
    return out


def pack(pieces: Iterable[str], limit: int, sep: str = "\n") -> list[str]:
    """Greedily join consecutive pieces into chunks of at most `limit` characters."""
    chunks: list[str] = []
    cur: list[str] = []
    size = 0
    for p in pieces:
        add = len(p) + (len(sep) if cur else 0)
        if cur and size + add > limit:
            chunks.append(sep.join(cur))
            cur, size = [], 0
            add = len(p)
        cur.append(p)
        size += add
    if cur:
        chunks.append(sep.join(cur))
    # A tiny tail chunk carries little meaning on its own: fold it into its neighbour.
    if len(chunks) >= 2 and len(chunks[-1]) < limit // 6:
        tail = chunks.pop()
        chunks[-1] = chunks[-1] + sep + tail
    return chunks


def chunk_document(doc: ParsedDocument, doc_id: str, limit: int) -> list[Chunk]:
    """Cut a parsed document into chunks along its own structure."""
    if doc.kind == "transcript":
        texts = list(_turn_chunks(doc.units, limit))
    elif doc.kind == "table":
        texts = list(_row_chunks(doc.units, limit))
    else:
        texts = list(_unit_chunks(doc.units, limit))
    return [
        Chunk(id=f"{doc_id}-{i:05d}", doc_id=doc_id, doc_name=doc.name, ordinal=i,
              kind=doc.kind, **fields)
        for i, fields in enumerate(texts)
    ]


def _unit_chunks(units: Iterable[Unit], limit: int):
    for u in units:
        for text in pack(_pieces(u.text, limit), limit, sep="\n\n" if "\n\n" in u.text else "\n"):
            yield {"text": text, "page": u.page, "heading": u.heading}


def _row_chunks(units: Iterable[Unit], limit: int):
    for u in units:
        for text in _hard_wrap(u.text, limit * 2) if len(u.text) > limit * 2 else [u.text]:
            yield {"text": text, "row": u.row, "meta": dict(u.meta)}


def _turn_chunks(units: list[Unit] | tuple[Unit, ...], limit: int):
    """Group consecutive speaker turns up to `limit`; a long turn is split on its own."""
    group: list[Unit] = []
    size = 0

    def emit(turns: list[Unit]):
        text = "\n".join(f"{t.speaker}: {t.text}" if t.speaker else t.text for t in turns)
        speakers = list(dict.fromkeys(t.speaker for t in turns if t.speaker))
        return {
            "text": text,
            # The speaker the passage opens with (its first turn, as `turn_start` and `start`
            # are): the one who talks most would label an analyst's question with the CFO
            # who answers it.
            "speaker": next((t.speaker for t in turns if t.speaker), None),
            "speakers": "|" + "|".join(speakers) + "|" if speakers else None,
            "start": turns[0].start,
            "end": turns[-1].end or turns[-1].start,
            "turn_start": turns[0].turn,
            "turn_end": turns[-1].turn,
        }

    for u in units:
        line_len = len(u.text) + len(u.speaker or "") + 2
        if line_len > limit:
            if group:
                yield emit(group)
                group, size = [], 0
            for part in pack(_pieces(u.text, limit - len(u.speaker or "") - 2), limit):
                yield emit([Unit(text=part, speaker=u.speaker, start=u.start, end=u.end,
                                 turn=u.turn)])
            continue
        if group and size + line_len > limit:
            yield emit(group)
            group, size = [], 0
        group.append(u)
        size += line_len + 1
    if group:
        yield emit(group)
