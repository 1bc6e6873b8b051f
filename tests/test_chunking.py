"""Chunking: along the document's structure, bounded, deterministic, nothing lost."""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import pairwise

import pytest
from conftest import DEMO_DIR

from rag.ingest.chunking import chunk_document, pack
from rag.ingest.loaders import load
from rag.types import ParsedDocument, Unit

LIMIT = 300

_WORDS = ["revenue", "margin", "churn", "guidance", "robots", "fleet", "pricing", "europe", "lidar", "backlog", "bookings", "quarter", "outlook", "customers", "dashboard", "support", "battery", "tariff", "hiring", "cash"]


def _prose(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 18))]
        out.append(" ".join(words).capitalize() + rng.choice(".!?"))
        if rng.random() < 0.15:
            out.append("\n\n")
        elif rng.random() < 0.1:
            out.append("\n")
    return " ".join(out)


def _doc(kind: str, units: list[Unit]) -> ParsedDocument:
    return ParsedDocument(filename=f"x.{kind}", name="x", kind=kind, units=tuple(units),
                          content_hash="0" * 64, size=1)


def _words(text: str) -> list[str]:
    return re.findall(r"\S+", text)


def _max_len(limit: int) -> int:
    # pack() may fold a tail shorter than limit // 6 into the previous chunk (plus a separator)
    return limit + limit // 6 + 2


def test_pdf_chunks_never_cross_pages_and_lose_no_word():
    rng = random.Random(7)
    pages = [_prose(rng, rng.randint(1, 40)) for _ in range(12)]
    doc = _doc("pdf", [Unit(text=t, page=i + 1) for i, t in enumerate(pages)])
    chunks = chunk_document(doc, "doc1", LIMIT)
    assert {c.page for c in chunks} == set(range(1, 13))
    for page_no, text in enumerate(pages, start=1):
        mine = [c for c in chunks if c.page == page_no]
        joined = " ".join(c.text for c in mine)
        # every word of the page, in order, and nothing from another page
        assert _words(joined) == _words(text)
    # ordinals follow document order; pages never interleave
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)


@pytest.mark.parametrize("seed", range(5))
def test_size_bounds(seed):
    rng = random.Random(seed)
    text = _prose(rng, 200)
    chunks = chunk_document(_doc("text", [Unit(text=text)]), "d", LIMIT)
    assert len(chunks) > 5
    assert all(0 < len(c.text) <= _max_len(LIMIT) for c in chunks)
    # greedy packing: no two neighbours would have fitted together in one chunk
    for a, b in pairwise(chunks):
        assert len(a.text) + len(b.text) + 1 > LIMIT


def test_giant_word_is_wrapped_not_dropped():
    blob = "x" * 1000
    text = f"Header line. {blob} trailing words."
    chunks = chunk_document(_doc("text", [Unit(text=text)]), "d", LIMIT)
    assert all(len(c.text) <= _max_len(LIMIT) for c in chunks)
    assert blob in "".join(c.text.replace(" ", "").replace("\n", "") for c in chunks)
    assert "trailing" in chunks[-1].text


def test_ids_are_deterministic_and_unique():
    rng = random.Random(3)
    units = [Unit(text=_prose(rng, 30), page=i + 1) for i in range(4)]
    a = chunk_document(_doc("pdf", units), "abc123", LIMIT)
    b = chunk_document(_doc("pdf", list(units)), "abc123", LIMIT)
    assert [(c.id, c.text, c.page) for c in a] == [(c.id, c.text, c.page) for c in b]
    assert len({c.id for c in a}) == len(a)
    assert all(c.id.startswith("abc123-") and c.doc_id == "abc123" for c in a)
    other = chunk_document(_doc("pdf", units), "def456", LIMIT)
    assert not {c.id for c in a} & {c.id for c in other}


def test_table_rows_are_one_chunk_each_with_metadata():
    units = [Unit(text=f"comment number {i} about support", row=i, meta={"c_rating": i % 5})
             for i in range(1, 30)]
    long_row = Unit(text="word " * 400, row=30, meta={"c_rating": 1})
    chunks = chunk_document(_doc("table", [*units, long_row]), "t", LIMIT)
    short = [c for c in chunks if c.row != 30]
    assert [(c.row, c.text, c.meta) for c in short] == [(u.row, u.text, u.meta) for u in units]
    long_parts = [c for c in chunks if c.row == 30]
    assert len(long_parts) >= 2  # a huge cell is split, but never merged with another row
    assert all(len(c.text) <= 2 * LIMIT for c in long_parts)
    assert _words(" ".join(c.text for c in long_parts)) == _words(long_row.text)


def test_transcript_chunks_group_turns_and_keep_speakers_and_times():
    turns = [
        Unit(text=f"point {i} about the roadmap and the pricing in europe", speaker=s,
             start=f"00:00:{i:02d}.000", end=f"00:00:{i:02d}.900", turn=i)
        for i, s in enumerate(["Ann", "Bob", "Ann", "Cid", "Bob", "Ann"] * 4, start=1)
    ]
    turns.append(Unit(text="long monologue sentence. " * 60, speaker="Dee", start="00:01:00.000",
                      turn=len(turns) + 1))
    chunks = chunk_document(_doc("transcript", turns), "tr", LIMIT)
    assert len(chunks) >= 4
    seen = []
    for c in chunks:
        assert c.turn_start <= c.turn_end
        seen.extend(range(c.turn_start, c.turn_end + 1))
        assert c.speakers.startswith("|") and c.speaker in c.speakers.strip("|").split("|")
        assert c.start == turns[c.turn_start - 1].start
        assert len(c.text) <= _max_len(LIMIT) + len("Dee: ")
    # every turn is covered, in order; only the split monologue repeats its turn number
    assert sorted(set(seen)) == list(range(1, len(turns) + 1))
    assert [c.turn_start for c in chunks] == sorted(c.turn_start for c in chunks)
    mono = [c for c in chunks if c.speaker == "Dee"]
    assert len(mono) >= 2 and all(c.text.startswith("Dee: ") for c in mono)
    text = "\n".join(c.text for c in chunks)
    for t in turns[:-1]:
        assert f"{t.speaker}: {t.text}" in text


def test_pack_folds_a_tiny_tail():
    assert pack(["a" * 90, "b" * 90, "c" * 5], 100) == ["a" * 90, "b" * 90 + "\n" + "c" * 5]
    assert pack([], 100) == []


@pytest.mark.parametrize("filename", ["northwind_q2_2026_earnings_call.txt",
                                      "product_planning_meeting_2026-09-15.vtt"])
def test_demo_transcripts_lose_no_word(settings, filename):
    doc = load((DEMO_DIR / filename).read_bytes(), filename, settings)
    chunks = chunk_document(doc, "demo", settings.chunk_chars)
    joined = Counter(_words(" ".join(c.text for c in chunks)))
    expected = Counter(w for u in doc.units for w in _words(u.text))
    assert not expected - joined  # every word of every turn, as many times as it occurs
    assert sum(len(c.text) for c in chunks) < 1.2 * sum(len(u.text) for u in doc.units)
