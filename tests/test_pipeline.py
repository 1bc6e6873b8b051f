"""The ingestion pipeline: idempotent, replaces by name, atomic per file, one failure is local."""

from __future__ import annotations

import badfiles
import pytest
from conftest import DEMO_DIR, close_client
from fakes import FailingEmbedder

from rag.ingest.pipeline import Ingestor, Upload, embed_input, expand_paths
from rag.services import build_services

NOTES_V1 = (b"Pricing review notes.\n\nEurope prices rise five percent in March. "
            b"The Beacon arm keeps its current list price.")
NOTES_V2 = (b"Pricing review notes, revised.\n\nEurope prices rise seven percent in April. "
            b"The Beacon arm gets a service bundle.")


def _state(ws):
    return sorted((d.doc_id, d.name, d.chunks) for d in ws.documents(include_pending=True)), \
        ws.count_chunks()


def test_reingest_is_unchanged(ingestor, workspace, fake_embedder):
    first = ingestor.ingest_bytes(NOTES_V1, "notes.txt")
    assert first.status == "added" and first.ok
    assert first.doc.chunks >= 1 and first.doc.units == 1
    before = _state(workspace)
    calls = fake_embedder.calls

    again = ingestor.ingest_bytes(NOTES_V1, "notes.txt")
    assert again.status == "unchanged" and again.ok
    assert again.doc.doc_id == first.doc.doc_id
    assert _state(workspace) == before
    assert fake_embedder.calls == calls  # nothing was embedded again

    renamed = ingestor.ingest_bytes(NOTES_V1, "copy of notes.txt")  # same bytes, other name
    assert renamed.status == "unchanged" and "notes" in renamed.message
    assert _state(workspace) == before


def test_same_name_new_content_replaces(ingestor, workspace, fake_embedder):
    old = ingestor.ingest_bytes(NOTES_V1, "notes.txt").doc
    other = ingestor.ingest_bytes(b"Unrelated memo about travel expenses.", "memo.txt").doc
    old_ids = {c.id for c in workspace.chunks_of(old.doc_id)}
    assert old_ids

    rep = ingestor.ingest_bytes(NOTES_V2, "notes.txt")
    assert rep.status == "replaced" and "replaced" in rep.message
    new = rep.doc
    assert new.doc_id != old.doc_id and new.name == "notes"
    assert workspace.chunks_of(old.doc_id) == []
    assert not old_ids & {c.id for c in workspace.iter_chunks()}
    assert sorted(d.doc_id for d in workspace.documents(include_pending=True)) == sorted(
        [new.doc_id, other.doc_id])
    assert workspace.count_chunks() == new.chunks + other.chunks
    assert workspace.find_by_name("notes")[0].meta["replaces"] == [old.doc_id]
    texts = " ".join(c.text for c in workspace.iter_chunks())
    assert "seven percent" in texts and "five percent" not in texts


def test_a_failing_file_does_not_stop_the_batch(ingestor, workspace):
    progress: list[tuple[float, str]] = []
    uploads = [
        Upload("a.txt", data=b"First good file about the robots fleet."),
        Upload(*badfiles.password_pdf()),
        Upload("b.md", data=b"# Second\n\nGood file about the battery swap."),
        Upload("missing.txt", path=DEMO_DIR / "no-such-file.txt"),
        Upload(*badfiles.good_pdf()),
    ]
    reports = ingestor.ingest_many(uploads, lambda f, m: progress.append((f, m)))
    assert [r.status for r in reports] == ["added", "failed", "added", "failed", "added"]
    assert [r.filename for r in reports] == ["a.txt", "locked.pdf", "b.md", "missing.txt",
                                             "report.pdf"]
    assert "password" in reports[1].message
    assert "cannot read the file" in reports[3].message
    assert {d.name for d in workspace.documents()} == {"a", "b", "report"}
    pdf = workspace.find_by_name("report")[0]
    assert pdf.kind == "pdf" and pdf.units == 3 and pdf.unit_label == "pages"
    assert {c.page for c in workspace.chunks_of(pdf.doc_id)} == {1, 2, 3}
    # progress: fractions within [0, 1], never going back, ending at 1
    fracs = [f for f, _ in progress]
    assert fracs == sorted(fracs) and fracs[0] == 0.0 and fracs[-1] == pytest.approx(1.0)
    assert any("embedded" in m for _, m in progress)
    assert progress[-1][1].startswith("report.pdf: added")


def test_progress_says_pages_per_second():
    from rag.ingest import pipeline

    assert pipeline._rate(30, 2.0) == " · 15.0 pages/s"
    assert pipeline._rate(0, 5.0) == "" and pipeline._rate(3, 0.1) == ""  # nothing to say yet


def test_a_crash_while_embedding_rolls_the_document_back(services, workspace):
    Ingestor(workspace, services.embedder, services.settings).ingest_bytes(
        b"Existing document about quarterly revenue.", "existing.txt")
    before = _state(workspace)
    long_text = ("A sentence about warehouse robots and their batteries. " * 40 + "\n\n") * 60
    broken = Ingestor(workspace, FailingEmbedder(ok_calls=1), services.settings)
    rep = broken.ingest_bytes(long_text.encode(), "long.txt")
    assert rep.status == "failed" and "could not store the document" in rep.message
    assert "embedder exploded" in rep.message
    assert broken.embedder.calls == 2  # the first batch of 64 chunks was written, then it broke
    assert _state(workspace) == before  # ... and those chunks were removed again


def test_table_options_are_used_and_rows_are_chunks(ingestor, workspace):
    data = (DEMO_DIR / "customer_feedback_2026.csv").read_bytes()
    rep = ingestor.ingest_bytes(data, "customer_feedback_2026.csv")
    assert rep.status == "added" and rep.doc.kind == "table"
    assert rep.doc.units == rep.doc.chunks  # one chunk a row
    chunks = workspace.chunks_of(rep.doc.doc_id)
    assert all(c.row and "c_rating" in c.meta and "c_date" in c.meta for c in chunks)
    assert embed_input(chunks[0]) == chunks[0].text  # rows are embedded without a title


def test_embed_input_adds_title_and_heading():
    from rag.types import Chunk

    c = Chunk(id="x", doc_id="d", doc_name="q3_board_pack", ordinal=0, text="Body.",
              heading="Plan > Budget")
    assert embed_input(c) == "q3 board pack | Plan > Budget\nBody."


def test_expand_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["b.txt", "a.pdf", "sub/c.csv", ".hidden.txt", "skip.exe", "sub/d.vtt"]:
        (tmp_path / name).write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in expand_paths([tmp_path])]
    assert got == ["a.pdf", "b.txt", "sub/c.csv", "sub/d.vtt"]
    explicit = tmp_path / "skip.exe"
    assert expand_paths([explicit]) == [explicit]  # named explicitly: tried, and refused later


# ---------------------------------------------------------------------------------------------
# the same paths with the real model and real on-disk Chroma


@pytest.fixture(scope="module")
def real_demo(tmp_path_factory, real_embedder):
    """The demo folder ingested with the real model into on-disk Chroma."""
    from rag.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("realdemo"))
    svc = build_services(settings, embedder=real_embedder)
    ws = svc.workspace("Demo", create=True)
    files = [p for p in expand_paths([DEMO_DIR]) if p.suffix != ".csv"]  # 400 rows: too slow
    reports = svc.ingestor(ws).ingest_many([Upload(p.name, path=p) for p in files])
    yield svc, ws, reports
    close_client(svc.client)


@pytest.mark.slow
def test_real_model_pipeline_is_idempotent_and_replaces(real_demo):
    svc, ws, reports = real_demo
    assert {r.status for r in reports} == {"added"}
    before = _state(ws)
    ingestor = svc.ingestor(ws)
    path = DEMO_DIR / "northwind_q1_2026_earnings_call.txt"
    assert ingestor.ingest_bytes(path.read_bytes(), path.name).status == "unchanged"
    assert _state(ws) == before

    changed = path.read_bytes() + b"\nOperator: This concludes the call. Thank you.\n"
    rep = ingestor.ingest_bytes(changed, path.name)
    assert rep.status == "replaced"
    old_id = next(r.doc.doc_id for r in reports if r.filename == path.name)
    assert ws.chunks_of(old_id) == []
    assert len(ws.documents()) == len(before[0])


@pytest.mark.slow
def test_real_model_search_finds_the_right_passages(real_demo):
    svc, ws, _ = real_demo
    searcher = svc.searcher(ws)

    hits = searcher.search("battery swap scheduler for the 4.2 release", k=5)
    assert hits and hits[0].chunk.doc_name == "product_planning_meeting_2026-09-15"
    assert hits[0].chunk.start and hits[0].chunk.speakers
    assert all(-1.0 <= h.score <= 1.0 for h in hits)

    hits = searcher.search("What was first quarter revenue and gross margin?", k=5)
    assert "northwind_q1_2026_earnings_call" in [h.chunk.doc_name for h in hits[:3]]
    assert any("371.0 million" in h.chunk.text for h in hits)

    assert searcher.search("   ", k=5) == []


@pytest.mark.slow
def test_real_model_pdf_hits_cite_one_based_pages(tmp_path, real_embedder):
    from rag.config import Settings

    svc = build_services(Settings(data_dir=tmp_path), embedder=real_embedder)
    try:
        ws = svc.workspace("Pdf", create=True)
        rep = svc.ingestor(ws).ingest_bytes(badfiles.good_pdf()[1], "report.pdf")
        assert rep.status == "added" and rep.doc.units == 3
        hits = svc.searcher(ws).search("How many active customers and what churn?", k=3)
        assert hits[0].chunk.page == 2  # "Customer Metrics" is the second page
        hits = svc.searcher(ws).search("headcount growth outlook for 2025", k=3)
        assert hits[0].chunk.page == 3
    finally:
        close_client(svc.client)
