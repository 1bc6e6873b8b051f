"""Hostile and odd files: refused with a clear message and no side effect, or read correctly."""

from __future__ import annotations

import time

import badfiles
import pytest
from conftest import FINANCEBENCH_PDFS

from rag.errors import BadFile
from rag.ingest.loaders import load
from rag.ingest.pipeline import Ingestor

# Each bad file, and words its refusal must contain (any one of them).
EXPECTED_WORDS = {
    "zero_byte_pdf": ["empty"],
    "zero_byte_txt": ["empty"],
    "whitespace_txt": ["empty"],
    "password_pdf": ["password"],
    "truncated_pdf": ["damaged", "truncated"],
    "image_only_pdf": ["scanned"],
    "exe_renamed_pdf": ["program", "not a PDF"],
    "random_garbage_pdf": ["damaged"],
    "binary_txt": ["binary"],
    "zip_bomb_docx": ["zip bomb", "unpacks"],
    "corrupt_docx": ["damaged"],
    "corrupt_xlsx": ["damaged"],
}
SECONDS_PER_BAD_FILE = 15  # the PDF child is killed long before a hang could hurt


def test_every_bad_file_has_expected_words():
    assert {f.__name__ for f in badfiles.ALL_BAD} == set(EXPECTED_WORDS)


@pytest.fixture
def seeded(ingestor, workspace):
    """A workspace that already holds one document."""
    rep = ingestor.ingest_bytes(b"Board minutes: the budget for robots was approved.",
                                "minutes.txt")
    assert rep.status == "added"
    return ingestor, workspace


def _snapshot(ws):
    docs = sorted((d.doc_id, d.status, d.chunks) for d in ws.documents(include_pending=True))
    return docs, ws.count_chunks()


@pytest.mark.parametrize("factory", badfiles.ALL_BAD, ids=lambda f: f.__name__)
def test_bad_file_is_refused_clearly_and_changes_nothing(seeded, factory):
    ingestor, ws = seeded
    before = _snapshot(ws)
    name, data = factory()

    t0 = time.perf_counter()
    rep = ingestor.ingest_bytes(data, name)
    elapsed = time.perf_counter() - t0

    assert rep.status == "failed" and not rep.ok and rep.doc is None
    msg = rep.message.lower()
    assert any(w.lower() in msg for w in EXPECTED_WORDS[factory.__name__]), rep.message
    # A loader bug (any exception other than our own BadFile) would surface through this
    # catch-all wording of the pipeline: every refusal here must be a deliberate one.
    assert not msg.startswith("could not read this file ("), rep.message
    assert "traceback" not in msg
    assert elapsed < SECONDS_PER_BAD_FILE
    assert _snapshot(ws) == before


@pytest.mark.parametrize("factory", [badfiles.zero_byte_txt, badfiles.exe_renamed_pdf,
                                     badfiles.zip_bomb_docx, badfiles.corrupt_xlsx],
                         ids=lambda f: f.__name__)
def test_loader_raises_our_own_error(settings, factory):
    name, data = factory()
    with pytest.raises(BadFile):
        load(data, name, settings)


def test_pdf_parsing_is_stopped_after_the_timeout(settings):
    big = (FINANCEBENCH_PDFS / "3M_2022_10K.pdf").read_bytes()  # 252 dense pages: ~5 s
    quick = settings.model_copy(update={"pdf_timeout_s": 1})
    t0 = time.perf_counter()
    with pytest.raises(BadFile) as err:
        load(big, "3M_2022_10K.pdf", quick)
    assert time.perf_counter() - t0 < 10
    assert "took over 1 s" in str(err.value) and "RAG_PDF_TIMEOUT_S" in str(err.value)


def test_size_limit_names_the_limit(ingestor, workspace, settings):
    small = Ingestor(workspace, ingestor.embedder, settings.model_copy(update={"max_file_mb": 1}))
    name, data = badfiles.huge_txt(2)
    rep = small.ingest_bytes(data, name)
    assert rep.status == "failed"
    assert "1 MB limit" in rep.message and "RAG_MAX_FILE_MB" in rep.message
    assert workspace.documents(include_pending=True) == []


# ---------------------------------------------------------------------------------------------
# odd but legitimate


@pytest.mark.parametrize("factory", badfiles.ALL_OK_ODD, ids=lambda f: f.__name__)
def test_odd_file_is_accepted(ingestor, workspace, factory):
    name, data = factory()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.status == "added", rep.message
    assert rep.doc.chunks >= 1
    stored = workspace.chunks_of(rep.doc.doc_id)
    assert len(stored) == rep.doc.chunks
    assert all(c.text.strip() for c in stored)


def _stored_text(ingestor, workspace, factory) -> str:
    name, data = factory()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.status == "added", rep.message
    return "\n".join(c.text for c in workspace.chunks_of(rep.doc.doc_id))


def test_cp1252_text_keeps_its_accents(ingestor, workspace):
    text = _stored_text(ingestor, workspace, badfiles.cp1252_txt)
    for s in ["lunch at the café", "“the invoice of €1,250 is fine”", "naïve", "‘close enough’",
              "résumé", "Zoë", "Meeting notes – lunch"]:
        assert s in text, s
    assert "\ufffd" not in text


def test_utf16_text_keeps_its_accents(ingestor, workspace):
    text = _stored_text(ingestor, workspace, badfiles.utf16_txt)
    for s in ["Résumé des ventes – été 2024", "São Paulo", "København", "Straße, über, señor"]:
        assert s in text, s
    assert "\x00" not in text and "\ufeff" not in text


def test_latin1_semicolon_csv_rows(ingestor, workspace):
    name, data = badfiles.latin1_csv_semicolon()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.doc.kind == "table" and rep.doc.units == 6
    chunks = workspace.chunks_of(rep.doc.doc_id)
    assert [c.text for c in chunks] == [r[3] for r in badfiles.LATIN1_CSV_ROWS[1:]]
    assert [c.meta["c_rating"] for c in chunks] == [5, 2, 4, 3, 1, 5]
    assert chunks[1].meta["c_date"] == "05/01/2024"
    # a European export: "17/01/2024" in the column means every date is day first
    assert [c.meta["date"] for c in chunks] == ["2024-01-03", "2024-01-05", "2024-01-11",
                                                "2024-01-17", "2024-01-22", "2024-01-30"]


def test_csv_with_quoted_newlines_keeps_whole_rows(ingestor, workspace):
    name, data = badfiles.csv_quoted_newlines()
    rep = ingestor.ingest_bytes(data, name)
    chunks = workspace.chunks_of(rep.doc.doc_id)
    assert [c.text for c in chunks] == [r[3] for r in badfiles.FEEDBACK_CSV_ROWS[1:]]
    assert chunks[3].meta["c_customer"] == "Umbrella, Inc."


def test_mostly_numeric_csv_uses_its_only_text_column(ingestor, workspace):
    name, data = badfiles.csv_mostly_numbers()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.doc.meta["text_column"] == "note"
    assert [c.text for c in workspace.chunks_of(rep.doc.doc_id)] == ["refund issued",
                                                                     "manual review"]


def test_traversal_filename_is_stored_as_a_bare_name(ingestor, workspace, settings):
    name, data = badfiles.traversal_filename_txt()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.filename == "passwd.txt"
    doc = workspace.get_document(rep.doc.doc_id)
    assert (doc.filename, doc.name) == ("passwd.txt", "passwd")
    assert all(c.doc_name == "passwd" for c in workspace.chunks_of(doc.doc_id))
    assert not (settings.data_dir.parent / "etc").exists()


def test_html_is_kept_as_inert_text(ingestor, workspace):
    name, data = badfiles.html_filename_txt()
    rep = ingestor.ingest_bytes(data, name)
    assert rep.doc.name == "<img src=x onerror=alert(1)>"  # escaping is the renderer's job
    text = _stored_text(ingestor, workspace, badfiles.html_in_text)
    assert text == "<script>alert('x')</script> Revenue grew 5%."
