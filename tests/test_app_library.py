"""The app shell and the Library page, driven through `streamlit.testing.v1.AppTest`.

Page tests load the real packaged embedding model (once per session: `st.cache_resource`
keeps it) and are marked slow; the helpers behind the page are tested without it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from apptools import walk

from rag.config import Settings, get_settings
from rag.ingest.loaders import LoadOptions
from rag.types import Chunk, DocumentInfo

streamlit = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from rag.ui import render, state
from rag.ui.demo import DEMO_WORKSPACE, demo_uploads
from rag.ui.pages import library

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 240  # the first run loads the model; the demo ingest takes ~30 s on 2 cores

HTML_NAME = "<img src=x onerror=alert(1)>.txt"
TRANSCRIPT_VTT = b"""WEBVTT

00:00:01.000 --> 00:00:05.000
<v Dana Ruiz>Welcome everyone, today we plan the battery swap station rollout.

00:00:06.000 --> 00:00:12.000
<v Omar Haddad>The swap station cuts robot downtime from forty minutes to three.
"""
FEEDBACK_CSV = (
    b"id,date,note,comment\n"
    b"1,2026-01-05,x,The gripper dropped parcels twice during the night shift.\n"
    b"2,2026-02-11,y,Support answered within an hour and fixed the map sync issue.\n"
    b"3,2026-03-02,z,Battery life is shorter than promised in cold storage aisles.\n"
)
REPORT_TXT = (
    b"Quarterly report\n\nRevenue grew 12 percent thanks to FleetOS subscriptions.\n\n"
    b"Gross margin improved as Atlas AMR production costs fell."
)


# -- helpers ---------------------------------------------------------------------------------


def _texts_with_markup(at: AppTest) -> list[str]:
    """Every string the browser would read as markdown: bodies, alerts, labels, headings."""
    out = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        for field in ("body", "label"):
            if hasattr(proto, field) and isinstance(getattr(proto, field), str):
                out.append(getattr(proto, field))
        if hasattr(proto, "expandable"):
            out.append(proto.expandable.label)
    return out


def _no_raw_html(at: AppTest) -> None:
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "allow_html"):
            assert proto.allow_html is False, node
    for text in _texts_with_markup(at):
        assert not re.search(r"(?<!\\)<img", text), text


def _new_app(**session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()  # the Dashboard is the landing page: open the Library
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == "library")
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader[0].set_value([(n, d, "application/octet-stream") for n, d in files])
    return at.run()


def _docs_table(at: AppTest):
    frames = [df.value for df in at.dataframe if "contents" in df.value.columns
              and "added" in df.value.columns]
    assert frames, "no documents table"
    return frames[0]


def _results_table(at: AppTest):
    frames = [df.value for df in at.dataframe if "message" in df.value.columns]
    assert frames, "no results table"
    return frames[0]


@pytest.fixture(scope="module")
def warm_model():
    """Load the real embedding model once for the whole module (st.cache_resource keeps it)."""
    s = Settings()
    emb = state._embedder(s.embed_model, s.embed_backend, s.embed_batch_size, s.threads)
    if isinstance(emb, state.BackgroundEmbedder):
        emb.load()
    return emb


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    state.clear_services()
    yield tmp_path / "data"
    state.clear_services()
    get_settings.cache_clear()


# -- without the model -----------------------------------------------------------------------


def test_md_escapes_markup_and_html():
    s = render.md("<img src=x onerror=alert(1)> **bold** $x$ :red[r] [a](http://e) # h")
    assert "<img" not in s.replace("\\<img", "")
    assert "\\*\\*bold\\*\\*" in s and "\\$x\\$" in s and "\\:red\\[r\\]" in s
    assert render.md_block("a\nb") == "a  \nb"


def test_count_is_singular_for_one():
    assert render.count(1, "pages") == "1 page" and render.count(0, "rows") == "0 rows"
    assert render.count(2, "turns") == "2 turns"


def test_results_frame_shows_failures_with_reason():
    ok = {"filename": "a.pdf", "status": "added", "message": "3 pages, 4 chunks",
          "kind": "pdf", "units": 3, "unit_label": "pages", "chunks": 4}
    bad = {"filename": "b.pdf", "status": "failed", "message": "the file is empty"}
    df = library.results_frame([ok, bad])
    assert list(df.columns) == ["file", "status", "type", "contents", "chunks", "message"]
    assert df.iloc[0]["contents"] == "3 pages"
    assert df.iloc[1]["status"] == "failed" and df.iloc[1]["message"] == "the file is empty"
    assert df["chunks"].tolist() == [4, ""]  # blank, never "None" (an Int64 <NA> showed it)
    assert not df.isna().any().any()


def test_documents_csv_is_formula_safe():
    d = DocumentInfo("id1", "=HYPERLINK(1)", "=HYPERLINK(1).txt", "text", 2, 3, 100, 0.0)
    csv = library.documents_csv([d]).decode()
    assert "'=HYPERLINK(1)" in csv and "\n=HYPER" not in csv


def test_passage_groups_by_page_turn_and_row():
    doc = DocumentInfo("d", "n", "n.pdf", "pdf", 2, 3, 1, 0.0)
    chunks = [Chunk("a", "d", "n", 0, "x", page=1), Chunk("b", "d", "n", 1, "y", page=1),
              Chunk("c", "d", "n", 2, "z", page=2)]
    assert [(k, len(g)) for k, g in library.passage_groups(doc, chunks)] == [
        ("Page 1", 2), ("Page 2", 1)]
    table = DocumentInfo("t", "t", "t.csv", "table", 1, 1, 1, 0.0, meta={"date_column": "date"})
    rows = [Chunk("r", "t", "t", 0, "x", kind="table", row=4, meta={"c_date": "2026-01-05"})]
    assert library.passage_groups(table, rows)[0][0] == "row 4 · 2026-01-05"
    turn = Chunk("v", "v", "v", 0, "x", speaker="Dana", turn_start=1, turn_end=2,
                 start="00:00:01.000")
    assert "Dana" in library.passage_groups(doc, [turn])[0][0]


def test_demo_uploads_skip_readme_and_set_table_columns():
    ups = demo_uploads()
    names = [u.filename for u in ups]
    assert "README.md" not in names and len(ups) == 4
    csv = next(u for u in ups if u.filename.endswith(".csv"))
    assert csv.options == LoadOptions(text_column="comment", date_column="date")


def test_streamlit_config():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == Settings().max_file_mb == 50
    assert cfg["server"]["headless"] is True
    assert cfg["browser"]["gatherUsageStats"] is False


def test_only_ui_imports_streamlit():
    offenders = [p for p in (ROOT / "rag").rglob("*.py")
                 if "ui" not in p.relative_to(ROOT / "rag").parts[:1]
                 and re.search(r"^\s*(import|from)\s+streamlit", p.read_text(),
                               re.MULTILINE)]
    assert not offenders


# -- the real app ------------------------------------------------------------------------------


@pytest.mark.slow
def test_ingest_files_reports_each_file(warm_model, data_dir):
    svc = state.services()
    reports = library.ingest_files(svc, "plain", [("r.txt", REPORT_TXT), ("empty.pdf", b"")])
    assert [r.status for r in reports] == ["added", "failed"]
    assert reports[1].message == "the file is empty"
    assert [d.name for d in svc.workspace("plain").documents()] == ["r"]


@pytest.mark.slow
def test_first_start_offers_the_demo_and_loads_it(warm_model, data_dir):
    at = _new_app()
    _ok(at)
    assert at.sidebar.selectbox(key=state.WS_KEY).value == state.DEFAULT_WORKSPACE
    assert at.sidebar.selectbox(key=state.WS_KEY).options == [state.DEFAULT_WORKSPACE]
    uploader = at.file_uploader[0]
    assert uploader.accept_multiple_files and ".pdf" in uploader.allowed_type
    assert not [t for t in uploader.allowed_type if "/" in t]  # no "text/*": .html is not ours
    at.button(key="library_load_demo").click().run()
    _ok(at)
    assert at.sidebar.selectbox(key=state.WS_KEY).value == DEMO_WORKSPACE
    results = _results_table(at)
    assert len(results) == 4 and all("added" in s for s in results["status"])
    docs = _docs_table(at)
    assert sorted(docs["name"]) == sorted(u.filename.rsplit(".", 1)[0] for u in demo_uploads())
    ws = state.services().workspace(DEMO_WORKSPACE)
    table = next(d for d in ws.documents() if d.kind == "table")
    assert table.meta["text_column"] == "comment" and table.meta["date_column"] == "date"
    assert "396 rows" in set(docs["contents"])
    assert not [b for b in at.button if b.label == "Load the demo workspace"]


@pytest.mark.slow
def test_an_interrupted_demo_load_can_be_finished(warm_model, data_dir):
    # The user left the page while the demo loaded: two of its files made it in, whole.
    uploads = demo_uploads()
    svc = state.services()
    library.ingest_files(svc, DEMO_WORKSPACE, uploads[:2])
    at = _new_app()
    at.sidebar.selectbox(key=state.WS_KEY).set_value(DEMO_WORKSPACE).run()
    _ok(at)
    missing = [u.filename for u in uploads[2:]]
    note = next(m.value for m in at.markdown if "The demo load stopped" in m.value)
    assert all(render.md(f) in note for f in missing), note
    at.button(key="library_resume_demo").click().run()
    _ok(at)
    assert sorted(_docs_table(at)["name"]) == sorted(u.filename.rsplit(".", 1)[0]
                                                     for u in uploads)
    assert not [b for b in at.button if b.label == "Finish loading the demo"]


@pytest.mark.slow
def test_upload_list_read_search_delete(warm_model, data_dir):
    at = _new_app()
    at = _upload(at, [("report.txt", REPORT_TXT), ("meeting.vtt", TRANSCRIPT_VTT),
                      ("feedback.csv", FEEDBACK_CSV), ("empty.pdf", b""),
                      (HTML_NAME, b"harmless text about revenue")])
    _ok(at)
    # The CSV gets a column picker, defaulting to the guessed text column.
    text_col = next(s for s in at.selectbox if s.label == "Text column")
    assert text_col.value == "comment"
    date_col = next(s for s in at.selectbox if s.label == "Date column (optional)")
    assert date_col.value == "date"
    text_col.set_value("comment")
    at.run()
    at.button(key="library_ingest").click().run()
    _ok(at)

    results = _results_table(at)
    by_file = results.set_index("file")
    assert "failed" in by_file.loc["empty.pdf", "status"]
    assert by_file.loc["empty.pdf", "message"] == "the file is empty"
    assert by_file.loc["meeting.vtt", "contents"] == "2 turns"
    assert by_file.loc["report.txt", "contents"] == "1 section"
    assert by_file.loc["feedback.csv", "contents"] == "3 rows"
    assert sum("added" in s for s in results["status"]) == 4
    assert any("1 of 5 files could not be added" in w.value for w in at.warning)

    # The uploader was emptied, so further reruns ingest nothing again.
    assert not at.file_uploader[0].value
    docs = _docs_table(at)
    assert sorted(docs["name"]) == sorted(["report", "meeting", "feedback",
                                           "<img src=x onerror=alert(1)>"])
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    before = {d.doc_id: d.added_at for d in ws.documents()}
    at.run()
    _ok(at)
    assert {d.doc_id: d.added_at for d in ws.documents()} == before
    assert any(b.label == "Download this table (CSV)" for b in at.get("download_button"))

    # Open the transcript: its turns show the speaker and time.
    meeting = next(d for d in ws.documents() if d.name == "meeting")
    at.selectbox(key=library.OPEN_KEY).set_value(meeting.doc_id).run()
    _ok(at)
    bodies = [m.value for m in at.markdown]
    assert any("Dana Ruiz" in b for b in bodies)
    assert any("swap station cuts robot downtime" in b for b in bodies)

    # Search in the page and in the sidebar.
    at.text_input(key=library.QUERY_KEY).input("robot downtime swap station").run()
    _ok(at)
    headings = [m.value for m in at.main.markdown if m.value.startswith("**1\\.**")]
    assert headings and "meeting" in headings[0]
    at.sidebar.text_input(key="sidebar_query").input("gripper dropped parcels").run()
    _ok(at)
    side = [m.value for m in at.sidebar.markdown]
    assert any("feedback" in s and "row 1" in s for s in side)

    # Delete, with a confirmation.
    at.button(key="library_delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="library_delete_yes").click().run()
    _ok(at)
    assert "meeting" not in set(_docs_table(at)["name"])
    assert any("Deleted" in s.value for s in at.success)
    assert meeting.doc_id not in ws.ready_ids()
    assert at.selectbox(key=library.OPEN_KEY).value is None


@pytest.mark.slow
def test_html_filename_is_escaped_everywhere(warm_model, data_dir):
    at = _new_app()
    at = _upload(at, [(HTML_NAME, b"harmless text about revenue and <b>bold</b> claims")])
    at.button(key="library_ingest").click().run()
    _ok(at)
    _no_raw_html(at)
    doc = state.services().workspace(state.DEFAULT_WORKSPACE).documents()[0]
    at.selectbox(key=library.OPEN_KEY).set_value(doc.doc_id).run()
    at.text_input(key=library.QUERY_KEY).input("revenue").run()
    at.sidebar.text_input(key="sidebar_query").input("revenue").run()
    _ok(at)
    _no_raw_html(at)
    shown = "\n".join(_texts_with_markup(at))
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in shown  # escaped, still readable
    # Tables show the raw name: dataframes never interpret markup.
    assert HTML_NAME.removesuffix(".txt") in set(_docs_table(at)["name"])


@pytest.mark.slow
def test_model_mismatch_is_shown_not_raised(warm_model, data_dir):
    from rag.index.store import Store, make_client

    client = make_client(get_settings())
    Store(client, "some-other-model", 768).workspace("Old", create=True)
    at = _new_app(**{state.WS_KEY: "Old"})
    _ok(at)
    assert at.sidebar.selectbox(key=state.WS_KEY).value == "Old"
    errors = [e.value for e in at.error]
    assert any("some\\-other\\-model" in e and "RAG\\_EMBED\\_MODEL" in e for e in errors)
    assert not at.file_uploader  # the page stops before offering uploads into it
    # Picking a workspace of the right model works again.
    at.sidebar.text_input(key="new_workspace_name").input("Fresh")
    at.sidebar.button[0].click().run()
    _ok(at)
    assert at.sidebar.selectbox(key=state.WS_KEY).value == "Fresh"
    assert not at.error


@pytest.mark.slow
def test_create_workspace_with_bad_name_shows_error(warm_model, data_dir):
    at = _new_app()
    at.sidebar.text_input(key="new_workspace_name").input("   ")
    at.sidebar.button[0].click().run()
    _ok(at)
    assert any("1 to 100 characters" in e.value for e in at.sidebar.error)


CALL_TXT = (
    b"Globex Q3 2025 Earnings Call\n\nOperator: Good morning, and welcome to the Globex third "
    b"quarter 2025 earnings conference call.\n\nHank Scorpio: Thank you. With me today is Lisa "
    b"Simpson, our Chief Financial Officer. Revenue was $1.2 billion.\n\n"
    b"Lisa Simpson: Thanks, Hank. Gross margin was 41%.\n"
)
RELEASE_TXT = (
    b"Initech Reports Second-Quarter 2025 Results\n\nAUSTIN, Texas - July 30, 2025 - Initech, "
    b"Inc. (NASDAQ: INTC) today reported results for the second quarter 2025.\n"
)


def test_library_shows_what_each_document_is_and_takes_a_correction(warm_model, data_dir):
    at = _new_app()
    at = _upload(at, [("notes final v2.txt", CALL_TXT), ("scan 7.txt", RELEASE_TXT)])
    at.button(key="library_ingest").click().run()
    _ok(at)
    docs = _docs_table(at).set_index("name")
    assert docs.loc["notes final v2", "issuer"] == "Globex"
    assert docs.loc["notes final v2", "form"] == "earnings call"
    assert docs.loc["scan 7", "period"] == "Q2 FY2025"
    cover = [df.value for df in at.dataframe if "issuer" in df.value.columns
             and "contents" not in df.value.columns]
    assert cover and set(cover[0]["issuer"]) == {"Globex", "Initech, Inc."}
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    call = next(d for d in ws.documents() if d.name == "notes final v2")
    at.selectbox(key=library.OPEN_KEY).set_value(call.doc_id).run()
    _ok(at)
    bodies = " ".join(m.value for m in at.markdown)
    assert "**Issuer:** Globex" in bodies
    assert re.search(r"\*\*Speakers:\*\*.*Lisa Simpson \\?\(CFO\\?\)", bodies)
    assert "read from" in bodies  # where each fact was read
    form = next(t for t in at.text_input if t.label == "Issuer")
    form.input("Globex Corporation")
    next(b for b in at.button if b.label == "Save corrections").click().run()
    _ok(at)
    assert any("Saved the corrections" in s.value for s in at.success)
    assert _docs_table(at).set_index("name").loc["notes final v2", "issuer"] == \
        "Globex Corporation"
    from rag.ingest.facts import facts_for

    assert facts_for(ws.get_document(call.doc_id)).issuer == "Globex Corporation"
