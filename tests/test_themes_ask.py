"""Aggregate feedback questions answered from the theme analysis (rag.analytics.feedback.ask):
which questions count as aggregate, and answers whose figures are recomputed here from the
analysis' own items."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
from fakes import HashEmbedder
from test_feedback import DEMO_CSV, items_of

from rag.analytics import feedback as fb
from rag.analytics.feedback import ask
from rag.ingest.loaders import read_csv_rows


def _demo() -> fb.Analysis:
    rows = read_csv_rows(DEMO_CSV.read_bytes())
    header, body = rows[0], rows[1:]
    col = {c: i for i, c in enumerate(header)}
    texts = [r[col["comment"]] for r in body]
    items = [replace(it, date=r[col["date"]]) for it, r in zip(
        items_of(texts, rating=[r[col["rating"]] for r in body]), body, strict=True)]
    X = HashEmbedder(dim=256).embed(texts)
    return fb.analyze(items, X, fb.Roles(text="comment", date="date", rating="rating"),
                      ingest_date_column="date", source={"doc_name": "customer_feedback.csv"})


def test_which_questions_are_aggregate():
    for q in ("What do customers complain about most?", "How many mention pricing?",
              "Is map re-sync getting worse?", "What are the main themes in the feedback?",
              "What share of comments are about support?"):
        assert ask.is_aggregate(q), q
    for q in ("What did the CFO say about margins?", "Summarize row 12",
              "What was revenue in Q2 2026?"):
        assert not ask.is_aggregate(q), q


def test_answers_from_the_analysis_with_figures_and_cited_rows():
    a = _demo()
    # "How many mention X": the count is every comment with a word of X's stem.
    got = ask.answer("How many customers mention pricing?", a)
    assert got is not None and got.kind == "count"
    want = sum(1 for it in a.items if re.search(r"\bpric", it.text, re.IGNORECASE))
    assert f"**{want:,} of {len(a.items):,} comments**" in got.text
    assert all(re.search(r"pric", q.text, re.IGNORECASE) and q.row for q in got.quotes)
    # "Complain most": the theme with the most negative comments, from the rating column.
    top = ask.answer("What do customers complain about most?", a)
    assert top is not None and top.kind == "complaints"
    worst = max((t for t in a.themes if not t.is_other),
                key=lambda t: (round(t.size * t.negative_share), t.size))
    assert f"about **{worst.name}**" in top.text and "size × negative share" in top.figures[0]
    assert top.quotes and all(q.row for q in top.quotes)
    rows = {q.row for q in top.quotes}
    assert rows <= {it.row for i, it in enumerate(a.items) if a.labels[i] == worst.id
                    or any(a.labels[i] == t.id for t in a.themes)}
    # "Is X getting worse": the monthly shares of the matching theme.
    name = worst.name.split("(")[0].strip()
    tr = ask.answer(f"Is {name} getting worse?", a)
    assert tr is not None and tr.kind == "trend" and "per month" in tr.text
    last = max(d for d in a.dates if d)[:7]
    assert last in tr.figures[0]
    assert ask.answer("What was revenue in Q2 2026?", a) is None


def test_answer_from_themes_reads_the_stored_analysis(tmp_path):
    a = _demo()

    class Doc:
        kind, doc_id = "table", "doc1"

    class Ws:
        collection_name, embed_model = "ws", "hash"

        def documents(self):
            return [Doc()]

    class Store:
        def load(self, collection, doc, model):
            return a if (collection, doc.doc_id) == ("ws", "doc1") else None

    got = ask.answer_from_themes("What are the top themes customers talk about?", Store(),
                                 Ws())
    assert got is not None and got.kind == "themes"
    heads = sorted((t for t in a.headlines if not t.is_other), key=lambda t: -t.size)
    assert f"**{heads[0].name}**: {heads[0].size} comments" in got.text
    assert ask.answer_from_themes("What was revenue?", Store(), Ws()) is None
    assert np.isclose(sum(t.share for t in a.headlines), 1.0)
