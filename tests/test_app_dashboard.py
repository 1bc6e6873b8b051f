"""The Dashboard page, driven through `streamlit.testing.v1.AppTest`.

The hashing embedder and a scripted chat model (provider "scripted") stand in for the real
ones, so the page's rules are checked exactly and in seconds: the landing page on an empty
workspace, a populated one (documents, a generated question log, a stored feedback analysis),
re-asking an unanswered question until it is resolved, and running an uploaded evaluation set.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.llm import providers
from rag.llm.prompts import ABSTAIN_TOKEN

streamlit = pytest.importorskip("streamlit")
from apptools import app_environment, walk
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.analytics import dashboard as dash
from rag.analytics import feedback as fb
from rag.analytics import questions as qlog
from rag.eval.history import EvalHistory
from rag.ingest.loaders import LoadOptions
from rag.ingest.pipeline import Upload
from rag.ui import state
from rag.ui.pages import dashboard as page
from rag.ui.pages import library

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
DEMO_CSV = ROOT / "data" / "customer_feedback_2026.csv"
TIMEOUT = 120  # generous: other jobs share this machine's two cores
EVIL = "<img src=x onerror=alert(1)> what is the :red[churn] rate?"
FORMULA = "=HYPERLINK(\"http://evil\",\"x\") revenue?"
REVENUE_Q = "What was Northwind's revenue in the second quarter of 2026?"
CALL_TXT = (
    b"Northwind Robotics Q2 2026 earnings call\n\n"
    b"Dana Whitfield: Revenue in the second quarter was $412.6 million, up 18% year over year. "
    b"Gross margin expanded to 41.3%.\n\n"
    b"Dana Whitfield: We are raising our full-year revenue outlook to $1.68 billion.\n"
)
REPORT_TXT = (b"Warehouse operations review\n\nThe gripper dropped parcels twice during the "
              b"night shift. Battery life in cold storage aisles is shorter than promised.")

REPLY: dict[str, str] = {"text": ""}


def _reply(messages) -> str:
    """The text the test put in REPLY, counting the calls."""
    REPLY["calls"] = REPLY.get("calls", 0) + 1
    return REPLY["text"]


def _chat() -> ScriptedChat:
    return ScriptedChat(_reply, name="scripted · dash", chunk=None)


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    REPLY.clear()
    REPLY["text"] = ""
    yield from app_environment(tmp_path, monkeypatch, {"scripted": lambda cfg, s: _chat()})


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


def _app() -> AppTest:
    """The app on its landing page, which must be the Dashboard."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    _ok(at)
    assert [t.value for t in at.title] == ["Dashboard"]
    return at


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _frame(at: AppTest, *columns: str):
    frames = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert frames, f"no table with {columns}"
    return frames[0]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _ws():
    return state.services().workspace(state.DEFAULT_WORKSPACE)


def _log() -> qlog.QuestionLog:
    return qlog.QuestionLog(get_settings().data_dir, _ws().collection_name)


def _populate() -> None:
    """Documents (one failing), a stored feedback analysis and a generated question log."""
    svc = state.services()
    reports = library.ingest_files(svc, state.DEFAULT_WORKSPACE, [
        ("northwind_call.txt", CALL_TXT), ("warehouse.txt", REPORT_TXT),
        Upload("customer_feedback_2026.csv", data=DEMO_CSV.read_bytes(),
               options=LoadOptions(text_column="comment", date_column="date")),
        ("broken.pdf", b"%PDF-1.4 truncated"),
    ])
    assert [r.ok for r in reports] == [True, True, True, False]
    ws = _ws()
    table = next(d for d in ws.documents() if d.kind == "table")
    a, _ = fb.analyze_document(ws, table, fb.Roles(text="comment", date="date"))
    fb.AnalysisStore(svc.settings.data_dir).save(ws.collection_name, table.doc_id, a)

    rng = random.Random(3)
    now = time.time()
    subjects = ["What was revenue growth in {}?", "Why is battery life short in {}?",
                "How often does the gripper drop parcels in {}?"]
    rows = []
    for i in range(240):
        text = rng.choice(subjects).format(rng.choice(["Q1", "Q2", "March", "the night shift",
                                                        "cold aisles", "Austin"]))
        abstained = rng.random() < 0.25
        rows.append({"asked_at": now - rng.uniform(0, 20 * 86400), "question": text,
                     "model": "local", "seconds": rng.uniform(1, 20), "abstained": abstained,
                     "first_token_s": None if abstained else 0.8,
                     "citation_check": "none" if abstained else "ok",
                     "passages": [{"chunk_id": "c", "doc_id": "d", "doc_name": "warehouse",
                                   "location": "§ Warehouse", "page": None, "score": 0.2,
                                   "snippet": "The gripper dropped parcels twice"}]})
    for text in (EVIL, FORMULA):
        rows.append({"asked_at": now - 60, "question": text, "model": "local", "seconds": 3.0,
                     "abstained": True, "citation_check": "none"})
    _log().add_many(rows)


# -- the page ---------------------------------------------------------------------------------------


def test_dashboard_is_the_landing_page_of_an_empty_workspace(app_env):
    at = _app()
    assert any("This workspace is empty" in i.value for i in at.info)
    assert not at.metric and not at.dataframe  # nothing to sum up yet, and no crash
    # A workspace that exists but holds nothing yet.
    state.services().workspace(state.DEFAULT_WORKSPACE, create=True)
    at.run()
    _ok(at)
    assert any("No documents in this workspace yet" in i.value for i in at.info)
    assert _metric(at, "Documents") == "0" and _metric(at, "Unanswered, open") == "0"
    assert any("No questions asked yet" in _plain(c.value) for c in at.caption)
    assert any(_plain(c.value).startswith("No briefs yet") for c in at.caption)


def test_populated_workspace_shows_every_tile(app_env):
    state.services().workspace(state.DEFAULT_WORKSPACE, create=True)
    _populate()
    at = _app()
    # Documents: by type, recently added, the failed file waiting for attention.
    by_type = _frame(at, "type", "documents", "chunks")
    assert dict(zip(by_type["type"], by_type["documents"], strict=True)) == {"text": 2,
                                                                              "table": 1}
    assert _metric(at, "Documents") == "3"
    attention = _frame(at, "file", "problem")
    assert list(attention["file"]) == ["broken.pdf"]
    assert any("1 file needs attention" in w.value for w in at.warning)
    recent = _frame(at, "name", "added")
    assert set(recent["name"]) == {"northwind_call", "warehouse", "customer_feedback_2026"}
    # Questions: per day, latency, topics; the metrics agree with the log.
    recs = _log().records()
    shares = qlog.outcome_shares(recs)
    assert _metric(at, "Answered") == f"{shares['share_answered']:.0%}"
    unanswered = len(qlog.open_unanswered(recs))
    assert _metric(at, "Unanswered, open") == str(unanswered)
    daily = _frame(at, "day", "answered", "abstained", "total")
    assert daily["total"].sum() == len(recs)
    assert _frame(at, "day", "p50_s")["questions"].sum() == len(recs)
    topics = _frame(at, "topic", "questions", "unanswered")
    assert topics["questions"].sum() == len(recs)
    assert topics["unanswered"].sum() == unanswered
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) >= 5  # documents by type, added, per day, latency, topics
    # Unanswered questions, grouped by topic, with their closest passages.
    groups = [e for e in at.expander if "question" in e.label and "·" in e.label]
    assert groups
    table = _frame(at, "topic", "question", "outcome", "closest passages")
    assert len(table) == unanswered
    assert set(table["question"]) >= {EVIL, FORMULA}  # tables show the raw text
    # Feedback themes with trend arrows; briefs absent: a clear note.
    themes = _frame(at, "theme", "trend", "change_pp")
    assert len(themes) and set(themes["trend"]) <= {"↑", "↓", "→"}
    assert set(themes["source"]) == {"customer_feedback_2026"}
    # Exports: a CSV under each table and the Markdown report.
    labels = [b.label for b in at.get("download_button")]
    assert "Report (Markdown)" in labels and labels.count("CSV") >= 7
    # Text typed by users is escaped wherever markdown is rendered.
    for text in _markup(at):
        assert not re.search(r"(?<!\\)<img", text), text
        assert ":red[churn]" not in text
    assert any("\\<img src\\=x onerror\\=alert\\(1\\)\\>" in t for t in _markup(at))


def test_report_and_csv_exports_hold_the_same_figures(app_env):
    state.services().workspace(state.DEFAULT_WORKSPACE, create=True)
    _populate()
    svc = state.services()
    ws = _ws()
    d = dash.collect(svc.settings.data_dir, ws, svc.embedder.embed, svc.embedder.name)
    report = dash.markdown_report(d)
    s = d.questions.shares
    assert f"{s['questions']:,} questions" in report
    assert f"{s['share_answered'] * 100:.1f}% answered" in report
    assert "## Unanswered questions" in report and "broken.pdf" in report
    assert "No briefs yet" in report and "customer_feedback_2026" in report
    assert "<img" not in report and "&lt;img src=x onerror=alert(1)&gt; what is" in report
    rows = list(csv.DictReader(io.StringIO(
        dash.safe_csv_of(d.questions.unanswered_table).decode("utf-8"))))
    cells = {r["question"] for r in rows}
    assert "'" + FORMULA in cells and FORMULA not in cells  # defused for spreadsheets
    assert len(rows) == d.questions.unanswered


def test_reask_resolves_or_offers_to_mark_resolved(app_env, monkeypatch):
    # The model path (numeric questions are computed from cells by default).
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    svc = state.services()
    ws = svc.workspace(state.DEFAULT_WORKSPACE, create=True)
    assert library.ingest_files(svc, ws.name, [("warehouse.txt", REPORT_TXT)])[0].ok
    # Asked before the earnings call was added: the documents did not say.
    first = svc.answerer(ws, _chat()).ask(REVENUE_Q)
    assert first.abstained
    qid = qlog.log_quietly(svc.settings.data_dir, ws.collection_name, first)
    other = qlog.log_quietly(svc.settings.data_dir, ws.collection_name,
                             svc.answerer(ws, _chat()).ask("Who is the CFO of Acme?"))
    at = _app()
    assert _metric(at, "Unanswered, open") == "2"
    assert library.ingest_files(svc, ws.name, [("northwind_call.txt", CALL_TXT)])[0].ok
    REPLY["text"] = "Revenue in the second quarter was $412.6 million [1]."
    at.button(key=f"dash_reask_{qid}").click().run()
    _ok(at)
    assert any("marked resolved" in _plain(s.value) for s in at.success)
    log = _log()
    assert log.get(qid).resolved and REPLY["calls"] == 1
    assert _metric(at, "Unanswered, open") == "1"
    assert not [b for b in at.button if b.key == f"dash_reask_{qid}"]
    # The model still cannot answer the other one: say so, and offer to resolve it anyway.
    REPLY["text"] = ABSTAIN_TOKEN
    at.button(key=f"dash_reask_{other}").click().run()
    _ok(at)
    assert any("Still not answered" in _plain(e.value) for e in at.error)
    assert not log.get(other).resolved
    at.button(key=f"dash_force_{other}").click().run()
    _ok(at)
    assert log.get(other).resolved and "by hand" in log.get(other).resolution
    assert _metric(at, "Unanswered, open") == "0"
    # Re-asks are recorded, but are not counted as questions asked.
    assert len(log.records()) == 2 and len(log.records(include_reasks=True)) == 4


def test_reask_with_a_failing_model_shows_one_line(app_env, monkeypatch):
    svc = state.services()
    ws = svc.workspace(state.DEFAULT_WORKSPACE, create=True)
    assert library.ingest_files(svc, ws.name, [("northwind_call.txt", CALL_TXT)])[0].ok
    qid = _log().add({"asked_at": time.time(), "question": REVENUE_Q, "abstained": True})

    def boom(cfg, settings):
        raise providers.ProviderError("the endpoint refused the connection")

    providers.register("scripted", boom)
    at = _app()
    at.button(key=f"dash_reask_{qid}").click().run()
    _ok(at)
    errors = [_plain(e.value) for e in at.error]
    assert any(e.startswith("Could not re-ask") and "refused" in e for e in errors), errors
    assert not _log().get(qid).resolved


def test_eval_upload_runs_and_charts_quality_over_time(app_env):
    svc = state.services()
    ws = svc.workspace(state.DEFAULT_WORKSPACE, create=True)
    assert all(r.ok for r in library.ingest_files(svc, ws.name, [
        ("northwind_call.txt", CALL_TXT), ("warehouse.txt", REPORT_TXT)]))
    rows = [{"question": "revenue second quarter 412.6 million", "doc_name": "northwind_call",
             "page": None},
            {"question": "gripper dropped parcels night shift", "doc_name": "warehouse.txt"},
            {"question": "board meeting minutes", "doc_name": "minutes", "page": 3}]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    at = _app()
    assert any("No evaluation run yet" in _plain(c.value) for c in at.caption)
    run = next(b for b in at.button if b.key == "dash_eval_run")
    assert run.disabled
    at.file_uploader(key="dash_eval_file_0").set_value(("set.jsonl", data, "application/json"))
    at.run()
    at.number_input(key=page.EVAL_K_KEY).set_value(2)
    at.button(key="dash_eval_run").click().run()
    _ok(at)
    flash = " ".join(_plain(s.value) for s in at.success)
    assert "set.jsonl: 3 questions, recall@2 0.67" in flash and "minutes" in flash
    runs = EvalHistory(svc.settings.data_dir, ws.collection_name).runs()
    assert len(runs) == 1 and runs[0]["k"] == 2
    assert runs[0]["recall"] == pytest.approx(2 / 3)
    assert _metric(at, "Recall@2") == "0.67"
    history = _frame(at, "run", "recall@k", "MRR")
    assert list(history["questions"]) == [3]
    per_q = _frame(at, "question", "hit", "rank")
    assert list(per_q["hit"]) == [True, True, False]
    assert at.file_uploader(key="dash_eval_file_1").value is None  # emptied for the next one
    # A bad file: one clear line, nothing stored.
    at.file_uploader(key="dash_eval_file_1").set_value(
        ("bad.csv", b"query,page\nq,1\n", "text/csv"))
    at.run()
    at.button(key="dash_eval_run").click().run()
    _ok(at)
    assert any("has no 'question'" in _plain(e.value) for e in at.error)
    assert len(EvalHistory(svc.settings.data_dir, ws.collection_name).runs()) == 1


def test_dismissing_a_failed_file(app_env):
    svc = state.services()
    library.ingest_files(svc, state.DEFAULT_WORKSPACE, [("ok.txt", REPORT_TXT),
                                                         ("empty.txt", b"")])
    at = _app()
    assert list(_frame(at, "file", "problem")["file"]) == ["empty.txt"]
    at.selectbox(key="dash_dismiss_pick").set_value("empty.txt")
    at.button(key="dash_dismiss").click().run()
    _ok(at)
    assert not [d for d in at.dataframe if "problem" in d.value.columns]
    assert _log().failures() == []


BRIEFS = [
    {"doc_id": "d1", "doc_name": "northwind_q2_2026_earnings_call", "kind": "earnings",
     "created_at": 100.0, "action_items": [],
     "figures": [{"metric": "Revenue", "period": "Q2 2025", "value": 1.0, "unit": "USD m",
                  "change": "", "citation": "old"}], "guidance": []},
    {"doc_id": "d1", "doc_name": "northwind_q2_2026_earnings_call", "kind": "earnings",
     "created_at": 200.0, "action_items": ["Follow up on margins"],
     "figures": [{"metric": "Revenue", "period": "Q2 2026", "value": 412.6, "unit": "USD m",
                  "change": "+18% y/y", "citation": {"doc_name": "northwind_q2_2026_earnings_call",
                                                     "location": "Dana Whitfield, turn 2"}},
                 {"metric": "Gross margin", "period": "Q2 2026", "value": 41.3, "unit": "%",
                  "change": "=1+1", "citation": None}],
     "guidance": [{"metric": "Revenue", "period": "FY2026", "value": "1.68", "unit": "USD bn",
                   "direction": "raised", "citation": "[1]"}]},
    {"doc_id": "d2", "doc_name": "acme_q1", "company": "Acme", "kind": "earnings",
     "created_at": 150.0, "figures": [{"metric": "EPS", "period": "Q1 2026", "value": 0.47,
                                       "unit": "USD", "change": None, "citation": None}],
     "guidance": [], "action_items": []},
]


def test_earnings_tile_reads_the_summary_store_contract(app_env, monkeypatch):
    import sys
    import types

    seen = {}

    class SummaryStore:
        def __init__(self, data_dir):
            seen["data_dir"] = data_dir

        def list(self, collection):
            seen["collection"] = collection
            return BRIEFS

    fake = types.ModuleType("rag.analytics.summaries")
    fake.SummaryStore = SummaryStore
    monkeypatch.setitem(sys.modules, "rag.analytics.summaries", fake)
    ws = state.services().workspace(state.DEFAULT_WORKSPACE, create=True)
    at = _app()
    assert seen["collection"] == ws.collection_name
    df = _frame(at, "company", "period", "metric", "kind", "value")
    rows = [tuple(r) for r in df[["company", "period", "metric", "kind", "value", "change"]]
            .itertuples(index=False)]
    assert rows == [
        ("Acme", "Q1 2026", "EPS", "reported", "0.47 USD", ""),
        ("Northwind", "Q2 2026", "Gross margin", "reported", "41.3%", "=1+1"),
        ("Northwind", "Q2 2026", "Revenue", "reported", "412.6 USD m", "+18% y/y"),
        ("Northwind", "FY2026", "Revenue", "guidance", "1.68", "raised"),
    ]  # the older brief of the same document is left out; a quoted value is shown as is
    assert df.iloc[2]["source"] == "Dana Whitfield, turn 2"  # its own document: not repeated
    assert df.iloc[3]["source"] == "[1]"
    assert "'=1+1" in dash.safe_csv_of(df).decode()
    # A store that fails: one line, the rest of the page still there.
    SummaryStore.list = lambda self, c: (_ for _ in ()).throw(OSError("disk gone"))
    at.run()
    _ok(at)
    assert any("could not be read" in _plain(c.value) for c in at.caption)
    assert _metric(at, "Documents") == "0"


def test_earnings_tile_with_the_real_summary_store(app_env):
    from rag.analytics.summaries import SummaryStore
    from rag.analytics.summaries.brief import summarize_document

    svc = state.services()
    call = ROOT / "data" / "northwind_q2_2026_earnings_call.txt"
    (rep,) = library.ingest_files(svc, state.DEFAULT_WORKSPACE, [(call.name, call.read_bytes())])
    ws = _ws()
    store = SummaryStore(svc.settings.data_dir)
    summarize_document(ws, rep.doc, "earnings", None, store=store)  # extractive: no model
    at = _app()
    df = _frame(at, "company", "period", "metric", "kind", "value")
    revenue = df[(df["metric"] == "Revenue") & (df["kind"] == "reported")].iloc[0]
    assert (revenue["company"], revenue["period"], revenue["value"], revenue["change"]) == \
        ("Northwind", "Q2 2026", "$412.6 million", "up 18% year over year")
    assert re.match(r"^\[\d+\] ", revenue["source"])
    guidance = df[df["kind"] == "guidance"]
    assert "raised" in set(guidance["change"])
    assert any("$1.68 billion" in v for v in guidance["value"])
    assert list(df["kind"]).index("guidance") > list(df["kind"]).index("reported")
    links = [p for p in at.get("page_link") if "Summaries" in p.proto.label]
    assert links
    # The document is deleted: its brief no longer counts.
    ws.delete_document(rep.doc.doc_id)
    at.run()
    _ok(at)
    assert not [d for d in at.dataframe if "metric" in d.value.columns]
    assert any(_plain(c.value).startswith("No briefs yet") for c in at.caption)


@pytest.mark.parametrize(("name", "company"), [
    ("northwind_q2_2026_earnings_call", "Northwind"), ("PEPSICO_2023Q1_EARNINGS", "PEPSICO"),
    ("3M_2018_10K", "3M"), ("PEPSICO_2023_8K_dated-2023-05-05", "PEPSICO"),
    ("Pfizer_2023Q2_10Q", "Pfizer"), ("acme robotics fy2026 call", "Acme Robotics"),
    ("2026_results", "2026_results"),
])
def test_company_from_document_name(name, company):
    assert dash.company_of(name) == company


def _goto(at: AppTest, url_path: str) -> AppTest:
    """Open a page of st.navigation (the default page's url path is empty)."""
    want = "" if url_path == "dashboard" else url_path
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == want)
    return at.run()


def test_a_question_asked_on_the_ask_page_reaches_the_dashboard(app_env, monkeypatch):
    # The model path (numeric questions are computed from cells by default).
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    from rag.ui.pages import ask

    svc = state.services()
    assert library.ingest_files(svc, state.DEFAULT_WORKSPACE,
                                [("northwind_call.txt", CALL_TXT)])[0].ok
    at = _app()
    assert _metric(at, "Questions, 7 days") == "0"
    _goto(at, "ask")
    REPLY["text"] = "Revenue in the second quarter was $412.6 million [1]."
    at.chat_input(key=ask.INPUT_KEY).set_value(REVENUE_Q).run()
    _ok(at)
    REPLY["text"] = ABSTAIN_TOKEN
    at.chat_input(key=ask.INPUT_KEY).set_value("What is the CEO's favourite colour?").run()
    _ok(at)
    _goto(at, "dashboard")
    _ok(at)
    assert _metric(at, "Questions, 7 days") == "2"
    assert _metric(at, "Unanswered, open") == "1"
    (rec,) = [r for r in _log().records() if r.question == REVENUE_Q]
    assert rec.source == "app" and rec.outcome == "answered" and rec.model == "scripted · dash"
    assert rec.passages[0].doc_name == "northwind_call"
    _, missing = _log().vectors([rec.topic_text], svc.embedder.name, None)
    assert missing == []
    table = _frame(at, "topic", "question", "outcome")
    assert list(table["question"]) == ["What is the CEO's favourite colour?"]
