"""Real SEC filings (FinanceBench): all 10 read, encrypted ones too, pages cited 1-based, and a
known question finds its filing. Uses the session's shared real-PDF workspace."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from conftest import FINANCEBENCH_ENCRYPTED, FINANCEBENCH_PAGES, FINANCEBENCH_PDFS
from shared_data import financebench_questions

pytestmark = pytest.mark.slow



def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module")
def pages_text(real_pdf_workspace):
    """doc name -> page number -> the text of that page's chunks, as stored in Chroma."""
    _, ws, _, _ = real_pdf_workspace
    out: dict[str, dict[int, str]] = defaultdict(lambda: defaultdict(str))
    for c in ws.iter_chunks():
        out[c.doc_name][c.page] += "\n" + c.text
    return out


@pytest.mark.parametrize("name", sorted(FINANCEBENCH_PAGES))
def test_every_filing_is_ingested(real_pdf_workspace, pages_text, name):
    _, ws, reports, _ = real_pdf_workspace
    rep = reports[name]
    assert rep.status == "added", rep.message
    doc = ws.get_document(rep.doc.doc_id)
    assert doc.kind == "pdf" and doc.name == name
    assert doc.units == FINANCEBENCH_PAGES[name] > 0  # every page counted, encrypted or not
    assert doc.meta["pages"] == FINANCEBENCH_PAGES[name]
    assert doc.chunks > 0 and len(ws.chunks_of(doc.doc_id)) == doc.chunks
    pages = set(pages_text[name])
    assert pages and min(pages) >= 1 and max(pages) <= doc.units
    assert len(pages) > 0.8 * doc.units  # text came out of (nearly) every page


def test_encrypted_filings_were_decrypted(real_pdf_workspace, pages_text):
    *_, reports, _ = real_pdf_workspace
    for name in FINANCEBENCH_ENCRYPTED:
        assert b"/Encrypt" in (FINANCEBENCH_PDFS / f"{name}.pdf").read_bytes()  # really locked
        assert reports[name].status == "added"
        text = " ".join(pages_text[name].values())
        assert len(text) > 50_000 and " the " in text  # real text, not ciphertext


def test_pages_match_the_benchmark_labels(pages_text):
    """Each FinanceBench evidence passage (0-indexed page N) is on our page N + 1, not N or N+2."""
    checked = 0
    for q in financebench_questions():
        for ev in q["evidence"]:
            want = _words(ev["evidence_text"])
            page = ev["evidence_page_num"] + 1
            doc_pages = pages_text[q["doc_name"]]
            cover = {p: len(want & _words(doc_pages.get(p, ""))) / len(want)
                     for p in (page - 1, page, page + 1)}
            assert cover[page] >= 0.9, (q["doc_name"], page, cover)
            assert cover[page] > max(cover[page - 1], cover[page + 1]), (q["doc_name"], cover)
            checked += 1
    assert checked >= 30


def test_3m_capex_question_finds_the_3m_2018_filing(real_pdf_workspace):
    svc, ws, _, _ = real_pdf_workspace
    hits = svc.searcher(ws).search(
        "3M capital expenditure 2018 purchases of property plant and equipment", k=5)
    assert len(hits) == 5
    assert "3M_2018_10K" in [h.chunk.doc_name for h in hits], [
        (h.chunk.doc_name, h.chunk.page) for h in hits]
    assert all(isinstance(h.chunk.page, int) and h.chunk.page >= 1 for h in hits)
