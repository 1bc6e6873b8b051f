"""The Summaries page, driven through `streamlit.testing.v1.AppTest` on the demo documents.

The hashing embedder and a scripted chat model (provider "scripted") stand in for the real
ones, so the page's rules are checked exactly and in seconds.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.ingest.pipeline import Upload
from rag.llm import providers

streamlit = pytest.importorskip("streamlit")
from apptools import app_environment, walk
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.analytics.summaries import SummaryStore
from rag.types import DocumentInfo
from rag.ui import state
from rag.ui.pages import library
from rag.ui.pages import summaries as page

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
DATA = ROOT / "data"
Q1 = DATA / "northwind_q1_2026_earnings_call.txt"
Q2 = DATA / "northwind_q2_2026_earnings_call.txt"
MEETING = DATA / "product_planning_meeting_2026-09-15.vtt"
TIMEOUT = 120  # generous: other jobs share this machine's two cores

CALLS: list[str] = []


def _reply(messages) -> str:
    """Cites the first sentence of passage [1], with an <img> tag to check escaping."""
    user = messages[-1].content
    CALLS.append(user)
    first = re.search(r"^\[1\] (.+)$", user, re.MULTILINE).group(1)
    first = re.sub(r"^[^:]{1,40}:\s+", "", first)
    sentence = re.split(r"(?<=[.!?])\s", first)[0].rstrip(".")
    return f"- {sentence} <img src=x onerror=alert(1)> [1]\n"


class _SlowAfterFirst(ScriptedChat):
    """Answers the first call at once, then reads its prompt for half a minute (as the
    embedded model does a long one) before the first piece."""

    def stream(self, messages, max_tokens=512, temperature=0.0, **kw):
        self.sent.append(messages)
        if len(self.sent) > 1:
            time.sleep(30)
        yield _reply(messages)


def _boom(cfg, settings):
    raise providers.ProviderError("no model in this test")


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    CALLS.clear()
    yield from app_environment(tmp_path, monkeypatch, {
        "scripted": lambda cfg, s: ScriptedChat(_reply, name="scripted · summaries page",
                                                chunk=None),
        "broken": _boom,
        "slow": lambda cfg, s: _SlowAfterFirst("", name="scripted · slow")})


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _no_raw_html(at: AppTest) -> None:
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        if hasattr(proto, "allow_html"):
            assert proto.allow_html is False, node
        for name in ("body", "label"):
            text = getattr(proto, name, None)
            if isinstance(text, str):
                assert not re.search(r"(?<!\\)<img", text), text


def _app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    _ok(at)
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == "summaries")
    at.run()
    _ok(at)
    return at


def _summarise(at: AppTest) -> None:
    """Press Summarise and rerun until the background job has handed its briefs over (the
    browser polls every second; AppTest reruns by hand)."""
    at.button(key="sum_run").click().run()
    for _ in range(TIMEOUT * 4):
        if page._JOB_KEY not in at.session_state:
            return
        time.sleep(0.25)
        at.run()
    pytest.fail("the brief never finished")


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _ingest(*paths: Path) -> dict[str, str]:
    reports = library.ingest_files(state.services(), state.DEFAULT_WORKSPACE,
                                   [Upload(p.name, path=p) for p in paths])
    assert all(r.ok for r in reports), [r.message for r in reports]
    return {r.filename: r.doc.doc_id for r in reports}


def _frame(at: AppTest, *cols: str):
    return next(d.value for d in at.dataframe if set(cols) <= set(d.value.columns))


def _text(at: AppTest) -> str:
    return "\n".join(_plain(m.value) for m in at.markdown)


def test_empty_workspace_points_to_the_library(app_env):
    at = _app()
    assert any("No documents to summarise" in i.value for i in at.info)


def test_earnings_brief_with_table_downloads_and_the_stored_copy(app_env):
    ids = _ingest(Q2)
    at = _app()
    assert at.multiselect(key=page.DOCS_KEY).value == [ids[Q2.name]]
    assert at.button(key="sum_run").label == "Summarise"
    _summarise(at)
    _ok(at)
    assert CALLS, "the model wrote the prose"
    figures = _frame(at, "metric", "period", "value", "unit", "change", "source")
    rev = figures[figures["value"] == "$412.6 million"].iloc[0]
    assert rev["metric"] == "Revenue" and rev["period"] == "Q2 2026"
    assert rev["change"] == "up 18% year over year" and rev["source"].startswith("[")
    assert "$412.6 million" in rev["quote"]
    guidance = _frame(at, "metric", "direction")
    assert "raised" in set(guidance["direction"]) and "held" in set(guidance["direction"])
    # The prior range the quote holds; a blank, never "None", where there is none.
    raised = guidance[guidance["direction"] == "raised"].iloc[0]
    assert raised["prior"] == "$1.62 billion to $1.67 billion"
    assert guidance["prior"].map(lambda v: isinstance(v, str)).all()
    assert figures["change"].map(lambda v: isinstance(v, str)).all()
    # A share of revenue is labelled as one, never as a growth.
    opex = figures[figures["value"] == "33.2%"].iloc[0]
    assert opex["metric"] == "Operating expenses (% of revenue)", opex["metric"]
    assert not figures["metric"].str.contains("growth").any() or \
        "33.2%" not in set(figures[figures["metric"].str.contains("growth")]["value"])
    text = _text(at)
    for heading in ("Summary", "Figures", "Guidance", "Drivers", "Risks and concerns",
                    "Analyst questions", "Tone"):
        assert f"**{heading}**" in text
    assert any(":blue-badge[" in m.value for m in at.markdown)
    _no_raw_html(at)  # the model's bullets carried an <img> tag: escaped
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:3] == ["Brief (Markdown)", "Figures (CSV)", "Guidance (CSV)"]
    # Stored with the workspace: a new session shows it without calling the model.
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    store = SummaryStore(get_settings().data_dir)
    assert [b["kind"] for b in store.list(ws.collection_name)] == ["earnings"]
    CALLS.clear()
    again = _app()
    assert not CALLS
    assert again.button(key="sum_run").label == "Make them again"
    assert "$412.6 million" in set(_frame(again, "metric", "value", "unit")["value"])


def test_meeting_minutes_with_action_items_and_a_broken_model(app_env, monkeypatch):
    ids = _ingest(MEETING)
    monkeypatch.setenv("RAG_LLM_PROVIDER", "broken")
    get_settings.cache_clear()
    at = _app()
    assert at.multiselect(key=page.DOCS_KEY).value == [ids[MEETING.name]]
    _summarise(at)
    _ok(at)
    assert any("could not be loaded" in c.value and "no model in this test" in c.value
               for c in at.caption)
    actions = _frame(at, "task", "owner", "due", "source")
    grace = actions[actions["task"].str.startswith("exports the affected-site list")].iloc[0]
    assert grace["owner"] == "Grace Okafor" and grace["due"] == "by September 19"
    topics = _frame(at, "when", "topic")
    assert len(topics) >= 2 and topics.iloc[0]["when"].startswith("00:00:04")
    text = _text(at)
    assert "**Decisions**" in text and "**Open questions**" in text
    assert "extract" in text  # every bullet says how it was made
    # The decisions as the meeting read them back, marked so; the action items once each.
    assert text.count(":green-badge[as read back]") >= 6
    assert len(actions) == len(set(zip(actions["owner"], actions["task"], strict=True)))
    assert actions["due"].map(lambda v: isinstance(v, str) and v != "").all()
    assert any("extractive (no chat model)" in _plain(c.value) for c in at.caption)
    dl = [b for b in at.get("download_button") if b.proto.label == "Action items (CSV)"]
    assert dl


def test_default_compare_pair_is_the_most_alike_documents():
    def doc(name: str, kind: str) -> DocumentInfo:
        return DocumentInfo(doc_id=name, name=name, filename=name + ".txt", kind=kind,
                            units=1, chunks=1, size=1, added_at=0.0)

    docs = {d.doc_id: d for d in [doc("acme_q2_2026_call", "transcript"),
                                  doc("planning_meeting", "transcript"),
                                  doc("acme_10k_2025", "pdf"),
                                  doc("acme_q1_2026_call", "transcript")]}
    assert page.default_pair(docs) == ("acme_q1_2026_call", "acme_q2_2026_call")
    two = {k: docs[k] for k in ("planning_meeting", "acme_10k_2025")}
    assert set(page.default_pair(two)) == set(two)


def test_several_documents_then_compare_two_calls(app_env, monkeypatch):
    ids = _ingest(Q1, Q2)
    monkeypatch.setenv("RAG_LLM_PROVIDER", "broken")
    get_settings.cache_clear()
    at = _app()
    at.multiselect(key=page.DOCS_KEY).set_value([ids[Q1.name], ids[Q2.name]]).run()
    _summarise(at)
    _ok(at)
    assert len(at.tabs) >= 4  # Brief / Compare, and one tab per document
    values = set()
    for d in at.dataframe:
        if "value" in d.value.columns:
            values |= set(d.value["value"])
    assert {"$371.0 million", "$412.6 million"} <= values
    # The two calls are the default pair, the earlier quarter first: no picking needed.
    assert at.selectbox(key=page.CMP_A_KEY).value == ids[Q1.name]
    assert at.selectbox(key=page.CMP_B_KEY).value == ids[Q2.name]
    at.button(key="sum_cmp_run").click().run()
    _ok(at)
    cmp = _frame(at, "before", "after", "change")
    rev = cmp[cmp["metric"].str.lower() == "revenue"].iloc[0]
    assert (rev["before"], rev["after"]) == ("$371.0 million", "$412.6 million")
    assert rev["change"].endswith("(+11.2%)")
    assert rev["source A"].startswith("[") and rev["source B"].startswith("[")
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    kinds = sorted(b["kind"] for b in SummaryStore(get_settings().data_dir)
                   .list(ws.collection_name))
    assert kinds == ["compare", "earnings", "earnings"]
    csv_bytes = page.table_csv(at.session_state[page._COMPARE_KEY]["brief"], "figures")
    header = next(csv.reader(io.StringIO(csv_bytes.decode())))
    assert header[:3] == ["metric", "value_a", "period_a"]


def test_a_long_brief_shows_progress_and_cancel_keeps_what_was_finished(app_env, monkeypatch):
    _ingest(Q2)
    monkeypatch.setenv("RAG_LLM_PROVIDER", "slow")
    get_settings.cache_clear()
    at = _app()
    at.button(key="sum_run").click().run()
    _ok(at)
    # Still running after the first wait: a bar with the step and the time left, and Cancel.
    assert page._JOB_KEY in at.session_state
    time.sleep(1.0)
    at.run()
    bars = at.get("progress")
    assert bars, "a progress bar"
    text = bars[0].proto.text
    assert "with the model" in text and "left" in text, text
    assert any("elapsed" in c.value for c in at.caption)
    assert at.button(key="sum_run").disabled  # one job at a time
    t0 = time.monotonic()
    at.button(key="sum_cancel").click().run()
    for _ in range(40):
        if page._JOB_KEY not in at.session_state:
            break
        time.sleep(0.1)
        at.run()
    assert page._JOB_KEY not in at.session_state
    assert time.monotonic() - t0 < 5, "Cancel stops the model call under way at once"
    _ok(at)
    notes = " ".join(i.value for i in at.info)
    assert "Cancelled after 1 model call" in notes
    text = _text(at)
    assert "**Summary**" in text and "**Figures**" in text
    assert any(":blue-badge[" in m.value and "extract" not in m.value for m in at.markdown), \
        "the model's bullets of the finished call are kept"
