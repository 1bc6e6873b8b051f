"""The Feedback page, driven through `streamlit.testing.v1.AppTest` on the demo export.

The hashing embedder and a scripted chat model (provider "scripted") stand in for the real
ones, so the page's rules are checked exactly and in seconds.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.ingest.loaders import LoadOptions
from rag.ingest.pipeline import Upload
from rag.llm import providers
from rag.llm.prompts import ANSWER_SYSTEM

streamlit = pytest.importorskip("streamlit")
from apptools import app_environment, walk
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.analytics import feedback as fb
from rag.ui import state
from rag.ui.pages import feedback as page
from rag.ui.pages import library

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
DEMO_CSV = ROOT / "data" / "customer_feedback_2026.csv"
TIMEOUT = 120  # generous: other jobs share this machine's two cores
EVIL = "<img src=x onerror=alert(1)>"

SCRIPT: dict[str, object] = {}


def _reply(messages) -> str:
    """Names a theme after its first term; answers by citing passage [1]."""
    SCRIPT.setdefault("calls", []).append(messages)
    if messages[0].content == fb.NAME_SYSTEM:
        first = messages[1].content.split("Frequent terms: ", 1)[1].split(",")[0]
        return f"{first.strip().title()} <img src=x> theme"
    if messages[0].content == ANSWER_SYSTEM:
        # A grounded answer: the first passage's own words, cited (the claim check removes
        # a sentence its passage does not support).
        body = re.search(r"<<<passage 1>>> from [^\n]*:\n(.*?)\n<<<end>>>",
                         messages[1].content, re.DOTALL)
        words = " ".join(body.group(1).split()[:8]) if body else "Customers describe this"
        return SCRIPT.get("answer", f"Customers say: {words} [1].")
    return "OK"


def _boom(cfg, settings):
    raise providers.ProviderError("no model in this test")


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    SCRIPT.clear()
    yield from app_environment(tmp_path, monkeypatch, {
        "scripted": lambda cfg, s: ScriptedChat(_reply, name="scripted · feedback", chunk=None),
        "broken": _boom})


def _markup(at: AppTest) -> list[str]:
    out = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        for name in ("body", "label"):
            if hasattr(proto, name) and isinstance(getattr(proto, name), str):
                out.append(getattr(proto, name))
        if hasattr(proto, "expandable"):
            out.append(proto.expandable.label)
    return out


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _no_raw_html(at: AppTest) -> None:
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "allow_html"):
            assert proto.allow_html is False, node
    for text in _markup(at):
        assert not re.search(r"(?<!\\)<img", text), text


def _app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    _ok(at)
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == "feedback")
    at.run()
    _ok(at)
    return at


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _ingest_demo(extra_rows: bytes = b"") -> str:
    data = DEMO_CSV.read_bytes() + extra_rows
    reports = library.ingest_files(state.services(), state.DEFAULT_WORKSPACE, [
        Upload("customer_feedback_2026.csv", data=data,
               options=LoadOptions(text_column="comment", date_column="date"))])
    assert reports[0].ok, reports[0].message
    return reports[0].doc.doc_id


def _run(at: AppTest) -> AppTest:
    at.button(key="fb_run").click().run()
    _ok(at)
    return at


def _analysis(at: AppTest) -> fb.Analysis:
    return at.session_state[page._ANALYSIS_KEY]["a"]


# -- tests ----------------------------------------------------------------------------------------


def test_empty_workspace_offers_an_upload_and_adds_the_file(app_env):
    at = _app()
    assert any("No feedback table in this workspace yet" in i.value for i in at.info)
    at.file_uploader(key="fb_uploader_0").set_value(
        [("customer_feedback_2026.csv", DEMO_CSV.read_bytes(), "text/csv")]).run()
    _ok(at)
    assert at.selectbox(key="fb_up_text_0").value == "comment"
    assert at.selectbox(key="fb_up_date_0").value == "date"
    at.button(key="fb_add").click().run()
    _ok(at)
    doc = state.services().workspace(state.DEFAULT_WORKSPACE).documents()[0]
    assert doc.kind == "table" and doc.meta["text_column"] == "comment"
    assert at.selectbox(key=page.DOC_KEY).value == doc.doc_id
    assert any("Added customer\\_feedback\\_2026\\.csv" in s.value for s in at.success)
    # Guessed roles for the optional columns.
    roles = {k: at.selectbox(key=f"fb_role_{k}_{doc.doc_id}").value
             for k in ("date", "rating", "product", "channel")}
    assert roles == {"date": "date", "rating": "rating", "product": "product",
                     "channel": "channel"}


def test_themes_map_trend_drilldown_ask_edit_and_persistence(app_env):
    doc_id = _ingest_demo()
    at = _run(_app())
    a = _analysis(at)
    regular = [t for t in a.themes if not t.is_other]
    heads = [h for h in a.headlines if not h.is_other]
    # Two levels: sub-themes as many as the data holds, up to 15 headlines grouping them.
    assert 3 <= len(heads) <= 15 and len(heads) <= len(regular) <= 60
    assert a.other_share < 0.25
    assert sum(t.size for t in a.themes) == 396 == sum(h.size for h in a.headlines)
    # Named by the (scripted) model, one short prompt each with at most 12 tokens out
    # (a headline holding one sub-theme of the same name is not asked about twice).
    names = [m for m in SCRIPT["calls"] if m[0].content == fb.NAME_SYSTEM]
    assert len(names) == len(regular) + sum(h.named_by == "model" for h in heads)
    assert all(t.named_by == "model" and "<img src=x> theme" in t.name
               for t in regular), [t.name for t in regular]
    summary = _plain(at.markdown[0].value) if at.markdown else ""
    assert "396 comments" in "\n".join(_plain(m.value) for m in at.markdown), summary
    # Themes table, sizes bar, map, trend and segment heatmap all render.
    table = next(d.value for d in at.dataframe if "top terms" in d.value.columns)
    assert list(table["comments"]) == [t.size for t in a.headlines]  # headlines first
    assert {"avg rating", "share", "typical comment", "sentiment", "negative",
            "sub-themes"} <= set(table.columns)
    assert table["negative"].dtype.kind == "f"  # sortable
    assert any("“Other” holds" in c.value or "none in “Other”" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 5  # sizes, map, trend, heatmap, the open theme's months
    assert any(d.value.shape[1] >= 3 and "theme" in d.value.columns for d in at.dataframe)
    _no_raw_html(at)  # the model's names carried an <img> tag: escaped everywhere

    # Open the second theme: typical quotes first, every comment, its rows only.
    t = regular[1]
    at.selectbox(key=page.THEME_KEY).set_value(t.id).run()
    _ok(at)
    quotes = [m.value for m in at.markdown if m.value.startswith(">")]
    assert len(quotes) == min(page.QUOTES, len(t.examples))
    first = a.items[t.examples[0]]
    assert _plain(quotes[0]).startswith("> " + first.text.split("\n")[0][:40])
    rows = next(d.value for d in at.dataframe if "typicality" in d.value.columns)
    assert len(rows) == t.size and list(rows["typicality"]) == sorted(rows["typicality"],
                                                                          reverse=True)

    # Ask about this theme: retrieval sees only its rows, the answer cites a row.
    at.text_input(key=f"fb_ask_{t.id}").set_value("What do they complain about?")
    at.button(key=f"FormSubmitter:fb_ask_form_{t.id}-Ask").click().run()
    _ok(at)
    asked = [m for m in SCRIPT["calls"] if m[0].content == ANSWER_SYSTEM][-1]
    allowed = {f"row {a.items[i].row}" for i in a.members(t.id)}
    cited_rows = set(re.findall(r"row \d+", asked[1].content))
    assert cited_rows and cited_rows <= allowed
    assert any(":blue-badge[1]" in m.value and "row" in m.value for m in at.markdown)

    # Rename and merge, saved next to the workspace.
    at.selectbox(key="fb_rename_id").set_value(regular[0].id)
    at.text_input(key="fb_rename_to").set_value("Map re-sync")
    at.button(key="fb_rename").click().run()
    _ok(at)
    assert _analysis(at).theme(regular[0].id).name == "Map re-sync"
    at.selectbox(key="fb_merge_keep").set_value(regular[0].id).run()
    at.selectbox(key="fb_merge_drop").set_value(regular[2].id)
    at.button(key="fb_merge").click().run()
    _ok(at)
    merged = _analysis(at)
    assert merged.theme(regular[0].id).size == regular[0].size + regular[2].size
    assert merged.theme(regular[0].id).name == "Map re-sync"
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    # Saved on the storage port (the data dir's database), not as a file.
    assert state.services().analysis_store().saved_at(ws.collection_name, doc_id) is not None

    # A new session shows the saved result at once, without running anything.
    SCRIPT.clear()
    again = _app()
    shown = _analysis(again)
    assert shown.theme(regular[0].id).name == "Map re-sync" and not SCRIPT.get("calls")
    assert len(again.get("plotly_chart")) == 5
    labels = [b.proto.label for b in again.get("download_button")]
    assert "Download comments with their theme (CSV)" in labels
    assert "Download the theme table (CSV)" in labels


def test_granularity_and_fallback_names_without_a_model(app_env, monkeypatch):
    _ingest_demo()
    monkeypatch.setenv("RAG_LLM_PROVIDER", "broken")
    get_settings.cache_clear()
    at = _app()
    at.select_slider(key=page.K_KEY).set_value(5).run()
    at = _run(at)
    a = _analysis(at)
    assert a.k == 5 and len([t for t in a.themes if not t.is_other]) <= 5
    # Without a model every theme keeps the keyphrase of its own comments (not word pairs).
    regular = [t for t in a.themes if not t.is_other]
    assert all(t.named_by == "keyphrase" and "," not in t.name for t in regular), \
        [t.name for t in regular]
    assert any("could not be loaded" in c.value and "no model in this test" in c.value
               for c in at.caption)
    assert "set by hand" in _plain("\n".join(m.value for m in at.markdown))
    # Turning the model off skips it entirely; "auto" brings the chosen number back.
    at.toggle(key=page.NAMES_KEY).set_value(False)
    at.select_slider(key=page.K_KEY).set_value("auto").run()
    a = _analysis(_run(at))
    assert a.k == a.k_auto and not [n for n in a.notes if n.startswith(fb.NAMING_NOTE)]
    # The re-run was matched to the previous one (the checkbox is on by default).
    assert a.previous_run and any(n.startswith("Matched to run") for n in a.notes)


def test_changed_document_is_analysed_afresh_and_bad_rows_do_not_break(app_env):
    _ingest_demo()
    at = _run(_app())
    first = _analysis(at)
    # A new version of the export (same name) replaces the document: the saved result is
    # stale, so the page offers a fresh run instead of showing it.
    extra = (b'FB-2026-0401,2026-10-31,1,FleetOS,app store,Europe,"' + EVIL.encode()
             + b' the invoice total was wrong"\n'
             b"FB-2026-0402,2026-10-31,,FleetOS,app store,Europe,\n"
             b"FB-2026-0403,not a date,x,FleetOS,app store,Europe,12345\n"
             b'FB-2026-0404,2026-10-31,2,FleetOS,app store,Europe,"=SUM(1,2) invoice wrong"\n')
    new_id = _ingest_demo(extra)
    at = _app()
    assert at.selectbox(key=page.DOC_KEY).value == new_id
    assert at.button(key="fb_run").label == "Find themes"
    assert not at.get("plotly_chart")
    # The last analysis of the export's earlier version is offered to match the re-run to.
    assert at.checkbox(key=page.MATCH_KEY).value is True
    at = _run(at)
    a = _analysis(at)
    assert len(a.items) == 399 and a.source["doc_id"] == new_id != first.source["doc_id"]
    assert a.previous_run == first.run_id
    old = {t.id: t.name for t in first.themes if not t.is_other}
    kept = [t for t in a.themes if not t.is_other and t.status != "new"]
    assert len(kept) >= 0.8 * len(old) and all(old[t.id] == t.name for t in kept)
    assert a.ratings[-2] is None and a.dates[-2] is None  # "x" and "not a date": blanks
    _no_raw_html(at)
    rows = list(csv.reader(io.StringIO(fb.items_csv(a).decode())))
    texts = [r[3] for r in rows[1:]]
    assert "'=SUM(1,2) invoice wrong" in texts and "=SUM(1,2) invoice wrong" not in texts


def test_an_aggregate_question_on_ask_is_answered_from_the_theme_analysis(app_env):
    """'What do customers complain about most?' on the Ask page: the stored theme analysis
    answers (sizes and negative shares with their formulas, comments quoted by row), not five
    retrieved rows and the chat model."""
    from rag.ui.pages import ask

    _ingest_demo()
    at = _run(_app())
    a = _analysis(at)
    SCRIPT.clear()
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == "ask")
    at.run()
    _ok(at)
    at.chat_input(key=ask.INPUT_KEY).set_value("What do customers complain about most?").run()
    _ok(at)
    assert not [m for m in SCRIPT.get("calls", []) if m[0].content == ANSWER_SYSTEM]
    shown = "\n".join(_plain(m.value) for m in at.markdown)
    worst = max((t for t in a.themes if not t.is_other and t.negative_share is not None),
                key=lambda t: (round(t.negative_share * t.size), t.size))
    assert "complain most about" in shown and "negative comments" in shown, shown[:800]
    assert "size × negative share" in shown and re.search(r"row \d+ \(", shown), shown[:800]
    first = shown.split("complain most about", 1)[1][:200]
    assert _plain(worst.name).split(" <")[0][:12] in first, (worst.name, first)
    rows = {str(it.row) for it in a.items}
    assert set(re.findall(r"row (\d+) \(", shown)) <= rows
