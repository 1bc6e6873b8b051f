"""The Ask and Settings pages, driven through `streamlit.testing.v1.AppTest`.

Fast tests swap in the hashing embedder and a scripted chat model (registered as provider
"scripted" and chosen through RAG_LLM_PROVIDER), so each page rule is checked exactly and in
seconds. One slow test asks the real embedded model over the demo earnings call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.llm.prompts import ABSTAIN_TOKEN, REWRITE_SYSTEM
from rag.llm.providers import ModelConfig

streamlit = pytest.importorskip("streamlit")
from apptools import app_environment, walk
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.ui import state
from rag.ui.pages import ask, library
from rag.ui.pages import settings as settings_page

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 120  # generous: other jobs share this machine's two cores
SLOW_TIMEOUT = 900  # the real local model: loading plus 30-90 s an answer on a busy machine

REVENUE_Q = "What was Northwind's revenue in the second quarter of 2026?"
CALL_TXT = (
    b"Northwind Robotics Q2 2026 earnings call\n\n"
    b"Elena Sorensen: Welcome to the Northwind Robotics second quarter 2026 earnings call.\n\n"
    b"Dana Whitfield: Revenue in the second quarter was $412.6 million, up 18% year over year. "
    b"Gross margin expanded to 41.3%.\n\n"
    b"Elena Sorensen: Thank you Dana. Marcus will now cover the outlook.\n\n"
    b"Dana Whitfield: We are raising our full-year revenue outlook to $1.68 billion.\n"
)
REPORT_TXT = (
    b"Warehouse operations review\n\nThe gripper dropped parcels twice during the night shift. "
    b"Battery life in cold storage aisles is shorter than promised."
)
HTML_TXT = (
    b"Security memo: the <img src=x onerror=alert(1)> banner and <script>alert(2)</script> "
    b"were found in the intranet wiki page about badge readers."
)
FEEDBACK_CSV = (
    b"id,date,comment\n"
    b"1,2026-01-05,The gripper dropped parcels twice during the night shift.\n"
    b"2,2026-02-11,Support fixed the map sync issue within an hour.\n"
    b"3,2026-03-02,Battery life is shorter than promised in cold storage.\n"
)

# What the scripted model answers: tests set REPLY["text"] (a string with [n] markers).
REPLY: dict[str, str] = {"text": "", "second": ""}


def _chat(name: str, slot: str) -> ScriptedChat:
    """Replies with the text a test scripted; rewrites follow-ups to a fixed question."""

    def reply(messages) -> str:
        if messages[0].content == REWRITE_SYSTEM:
            return "What was the gross margin of Northwind in the second quarter of 2026?"
        return REPLY[slot]

    return ScriptedChat(reply, name=name, chunk=5)


# -- helpers ---------------------------------------------------------------------------------


def _markup(at: AppTest) -> list[str]:
    """Every string the browser reads as markdown: bodies, alerts, captions, labels."""
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


def _cfg_key(slot: str) -> str:
    return settings_page.CONFIG_KEY.format(slot=slot)


def _plain(markdown: str) -> str:
    """Escaped markdown back to its text (for readable assertions)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _goto(at: AppTest, url_path: str) -> AppTest:
    """Open a page of st.navigation (AppTest.switch_page only knows file-based pages)."""
    if not at._registered_pages:
        at.run()
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == url_path)
    return at.run()


def _app(page: str = "ask", timeout: float = TIMEOUT, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    _ok(at)
    return _goto(at, page)  # the Dashboard is the landing page


def _ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key=ask.INPUT_KEY).set_value(question).run()
    _ok(at)
    return at


def _turns(at: AppTest, ws: str = state.DEFAULT_WORKSPACE) -> list[ask.Turn]:
    return at.session_state[ask.CHATS_KEY][ws]


def _passages(at: AppTest):
    frames = [d.value for d in at.dataframe if "dense rank" in d.value.columns]
    assert frames, "no passages table"
    return frames[-1]


def _sources(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(":blue-badge[")]


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    """A fresh data dir, the hashing embedder and the scripted model as the session default."""
    REPLY.update(text="", second="")
    yield from app_environment(tmp_path, monkeypatch, {
        "scripted": lambda cfg, s: _chat("scripted · one", "text"),
        "scripted2": lambda cfg, s: _chat("scripted · two", "second")})


def _ingest(files: list[tuple[str, bytes]], ws: str = state.DEFAULT_WORKSPACE) -> dict[str, str]:
    reports = library.ingest_files(state.services(), ws, files)
    assert all(r.ok for r in reports), [r.message for r in reports]
    return {r.doc.name: r.doc.doc_id for r in reports}


# -- without streamlit -----------------------------------------------------------------------


def test_highlight_escapes_before_marking():
    text = "Intro <b>x</b> [1] *a*\nRevenue was $412.6 million :red[no].\nAfter."
    out = ask.highlight(text, "Revenue was $412.6 million :red[no].")
    assert ":orange-background[Revenue was \\$412\\.6 million \\:red\\[no\\]\\.]" in out
    assert "\\<b\\>x\\<\\/b\\>" in out and "\\[1\\]" in out and "\\*a\\*" in out
    assert out.count(":orange-background[") == 1
    # A quote made of two lines that the passage separates differently: both are marked.
    out = ask.highlight("Net sales (1,577). Costs (1,373) rose.", "Net sales (1,577).\nCosts")
    assert out.count(":orange-background[") == 2
    assert ask.highlight("plain text", "not there") == "plain text"


def test_answer_markdown_badges_markers_only():
    out = ask.answer_markdown("Revenue was $412.6 million. [1] Costs rose. [2]")
    assert ":blue-badge[1]" in out and ":blue-badge[2]" in out and "\\$412\\.6" in out


def test_build_filter_and_history():
    from datetime import date

    f = ask.build_filter(["d1"], ["table"], [], date(2026, 1, 1), None)
    assert f.doc_ids == ("d1",) and f.kinds == ("table",) and f.date_from == "2026-01-01"
    assert ask.build_filter().is_empty()
    t1, t2 = ask.Turn("q1"), ask.Turn("q2", error="boom")
    assert ask.history_of([t1, t2]) == []


# -- the Ask page with a scripted model ------------------------------------------------------


def test_empty_workspace_points_to_the_library(app_env):
    at = _app()
    assert any("No documents in this workspace yet" in i.value for i in at.info)
    assert at.chat_input(key=ask.INPUT_KEY).proto.disabled


def test_answer_streams_with_checked_sources(app_env, monkeypatch):
    # The model path: numeric questions are computed from cells by default (tested in
    # tests/test_app_figures.py); here the scripted model must answer.
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    ids = _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = ("Revenue in the second quarter was $412.6 million [1]. "
                     "Gross margin expanded to 41.3% [42].")
    at = _ask(_app(), REVENUE_Q)
    (turn,) = _turns(at)
    assert turn.answer is not None and not turn.answer.abstained, turn.error
    body = [m.value for m in at.markdown if "412\\.6 million" in m.value]
    assert any(":blue-badge[1]" in b for b in body)
    shown = "\n".join(_markup(at))
    assert "[42]" not in shown and "badge[42]" not in shown and "badge[2]" not in shown
    # One source: the call, at its speaker turn, with the quoted span highlighted.
    sources = _sources(at)
    assert len(sources) == 1 and "northwind\\_q2\\_2026\\_call" in sources[0]
    # A passage is labelled with the speaker it opens with (the operator here), as its turn
    # numbers and start time are.
    assert "Elena Sorensen" in sources[0] and "turn" in sources[0]
    assert any(":orange-background[" in m.value and "412\\.6" in m.value for m in at.markdown)
    # The question named Northwind: retrieval focused on that document, and says so.
    assert turn.answer.focused and turn.answer.filter.doc_ids == (
        ids["northwind_q2_2026_call"],)
    assert any("Focused on" in c.value and "northwind" in c.value for c in at.caption)
    # How it was made: passages with both retrievers' scores, the model, the dropped marker.
    table = _passages(at)
    assert {"rank", "document", "location", "dense score", "dense rank", "lexical score",
            "lexical rank", "fused"} <= set(table.columns)
    assert set(table["document"]) == {"northwind_q2_2026_call"}
    assert "[1]" in set(table["cited as"])
    assert any("scripted · one" in m.value and "first token" in m.value for m in at.markdown)
    assert any("dropped a citation \\[42\\]" in m.value for m in at.markdown)
    # Download the conversation; then ask over all documents instead of the focused one.
    dl = at.get("download_button")
    assert dl and dl[0].proto.label == "Download conversation"
    at.button(key=f"ask_unfocus_{turn.id}").click().run()
    _ok(at)
    (again,) = _turns(at)
    assert again.id != turn.id and not again.answer.focused
    assert not again.answer.filter.doc_ids
    assert len({*_passages(at)["document"]}) == 2


def test_flags_weak_and_missing_numbers(app_env, monkeypatch):
    # The model path (numeric questions are computed from cells by default).
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "Revenue in the second quarter was $999.9 million [1]."
    at = _ask(_app(), REVENUE_Q)
    # A figure its passage does not hold is no longer kept with a warning: the sentence is
    # removed, the user is told why, and it is listed struck through under "How it was made".
    assert any("removed" in w.value and "999.9" in w.value.replace("\\", "")
               for w in at.warning)
    assert any("~~" in m.value and "999" in m.value for m in at.markdown)
    (turn,) = _turns(at)
    assert "999.9" not in turn.answer.text


def test_marker_after_the_full_stop_is_checked_and_a_bare_marker_is_no_answer(app_env):
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "Revenue in the second quarter was $412.6 million. [1]"
    at = _ask(_app(), REVENUE_Q)
    (turn,) = _turns(at)
    (cite,) = turn.answer.citations
    assert not cite.inferred and cite.ok and "412.6" in cite.quote
    # A reply of nothing but a marker asserts nothing: it is not passed off as an answer.
    REPLY["text"] = "[2]"
    at = _ask(at, "What did Dana say about the outlook for the full year?")
    assert _turns(at)[-1].answer.abstained and not _turns(at)[-1].answer.citations
    assert any(i.value.startswith("The documents do not say") for i in at.info)


def test_abstention_shows_closest_passages(app_env):
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = ABSTAIN_TOKEN
    at = _ask(_app(), "What did the gripper do during the night shift?")
    (turn,) = _turns(at)
    assert turn.answer.abstained and not turn.answer.citations
    assert any(i.value.startswith("The documents do not say") for i in at.info)
    assert any(m.value == "**Closest passages**" for m in at.markdown)
    assert any(m.value.startswith("**1\\.**") for m in at.markdown)
    assert not _sources(at)


def test_filters_restrict_retrieval(app_env):
    ids = _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT),
                   ("feedback.csv", FEEDBACK_CSV)])
    REPLY["text"] = "The gripper dropped parcels twice during the night shift [1]."
    at = _app()
    ws = state.services().workspace(state.DEFAULT_WORKSPACE)
    key = ask._FILTER_KEY.format(name="docs", ws=ws.collection_name)
    at.multiselect(key=key).set_value([ids["ops_review"]]).run()
    assert any("Searching only documents: ops_review" in _plain(c.value) for c in at.caption)
    _goto(_goto(at, "settings"), "ask")  # the filters survive a trip to another page
    assert at.multiselect(key=key).value == [ids["ops_review"]]
    at = _ask(at, "What did the gripper drop during the night shift?")
    assert set(_passages(at)["document"]) == {"ops_review"}
    assert any("Filters:** documents: ops_review" in _plain(m.value) for m in at.markdown)
    # Rows by date: only the January row of the feedback export.
    at.multiselect(key=key).set_value([]).run()
    d_from = at.date_input(key=ask._FILTER_KEY.format(name="from", ws=ws.collection_name))
    d_to = at.date_input(key=ask._FILTER_KEY.format(name="to", ws=ws.collection_name))
    from datetime import date

    d_from.set_value(date(2026, 1, 1))
    d_to.set_value(date(2026, 1, 31)).run()
    at = _ask(at, "What did the gripper drop during the night shift?")
    table = _passages(at)
    assert list(table["document"]) == ["feedback"] and list(table["location"]) == [
        "row 1 · 2026-01-05"]
    # Speakers come from the transcripts.
    speakers = at.multiselect(key=ask._FILTER_KEY.format(name="speakers",
                                                         ws=ws.collection_name))
    assert set(speakers.options) == {"Elena Sorensen", "Dana Whitfield"}


def test_html_in_a_document_is_escaped_in_sources(app_env):
    _ingest([("security_memo.txt", HTML_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "The <img src=x onerror=alert(1)> banner was found in the intranet wiki [1]."
    at = _ask(_app(), "What banner was found in the intranet wiki page about badge readers?")
    _ok(at)
    assert _sources(at)
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "allow_html"):
            assert proto.allow_html is False
    shown = _markup(at)
    for text in shown:
        assert not re.search(r"(?<!\\)<(img|script)", text), text
    assert any("\\<img src\\=x onerror\\=alert\\(1\\)\\>" in t and ":orange-background[" in t
               for t in shown)


def test_follow_up_is_rewritten_and_chat_can_be_cleared(app_env):
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "Revenue in the second quarter was $412.6 million [1]."
    at = _ask(_app(), REVENUE_Q)
    REPLY["text"] = "Gross margin expanded to 41.3% [1]."
    at = _ask(at, "And what about its gross margin?")
    first, second = _turns(at)
    assert second.answer.rewritten.startswith("What was the gross margin")
    assert any(c.value.startswith("Read as: What was the gross margin") for c in at.caption)
    md_file = ask.conversation_markdown(state.DEFAULT_WORKSPACE, [first, second])
    assert md_file.count("**Q:**") == 2 and "412.6" in md_file and "[1] northwind_q2" in md_file
    assert len(at.chat_message) == 4
    # The reading is editable: the edited question is asked as it stands.
    at.text_input(key=f"ask_edit_{second.id}").set_value("What was Northwind's gross margin "
                                                           "in Q2 2026?")
    at.button(key=f"ask_edit_go_{second.id}").click().run()
    _ok(at)
    third = _turns(at)[-1]
    assert third.question == "What was Northwind's gross margin in Q2 2026?"
    assert third.answer.rewritten == third.question  # standalone: never rewritten
    at.button(key="ask_clear").click().run()
    _ok(at)
    assert _turns(at) == [] and not at.chat_message


def test_open_a_source_in_place_and_in_the_library(app_env, monkeypatch):
    # The model path: numeric questions are computed from cells by default (tested in
    # tests/test_app_figures.py); here the scripted model must answer.
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    ids = _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "Revenue in the second quarter was $412.6 million [1]."
    at = _ask(_app(), REVENUE_Q)
    (turn,) = _turns(at)
    at.session_state[f"ask_ctx_{turn.id}_a_1"] = True  # what expanding it in the browser does
    at.run()
    _ok(at)
    # The passage with its place as a heading, the quote marked, inside the expander.
    opened = next(e for e in at.expander if e.label == "Open in the document")
    texts = [m.value for m in opened.markdown]
    assert any(t.startswith("**Elena Sorensen") and "turns" in t for t in texts), texts
    assert any(":orange-background[" in t and "412\\.6" in t for t in texts)
    at.button(key=f"ask_lib_{turn.id}_a_1").click().run()
    _ok(at)
    assert at.selectbox(key=library.OPEN_KEY).value == ids["northwind_q2_2026_call"]
    assert any("raising our full\\-year revenue outlook" in m.value for m in at.markdown)


def test_compare_two_models_side_by_side(app_env, monkeypatch):
    # The model path: numeric questions are computed from cells by default (tested in
    # tests/test_app_figures.py); here the scripted model must answer.
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    REPLY["text"] = "Revenue in the second quarter was $412.6 million [1]."
    REPLY["second"] = "Gross margin expanded to 41.3% [1]."
    at = _app(**{_cfg_key("compare"): ModelConfig(provider="scripted2")})
    at.toggle(key=ask.COMPARE_KEY).set_value(True).run()
    assert any("Comparing" in c.value for c in at.caption)
    at = _ask(at, REVENUE_Q)
    (turn,) = _turns(at)
    assert turn.answer.model == "scripted · one" and turn.compare.model == "scripted · two"
    bodies = [m.value for m in at.markdown]
    assert any("412\\.6" in b for b in bodies) and any("41\\.3\\%" in b for b in bodies)
    assert len(_sources(at)) == 2


def test_provider_error_is_one_line_not_a_traceback(app_env, monkeypatch):
    # The model path (numeric questions are computed from cells by default).
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    _ingest([("northwind_q2_2026_call.txt", CALL_TXT), ("ops_review.txt", REPORT_TXT)])
    cfg = ModelConfig(provider="openai", model="gpt-test", base_url="http://127.0.0.1:9/v1",
                      timeout_s=10)
    at = _ask(_app(**{_cfg_key("primary"): cfg}), REVENUE_Q)
    (turn,) = _turns(at)
    assert turn.answer is None and "cannot reach the model endpoint" in turn.error
    assert any("cannot reach the model endpoint" in e.value for e in at.error)
    assert not any("Traceback" in t for t in _markup(at))


# -- the Settings page -----------------------------------------------------------------------


def test_settings_unreachable_endpoint_shows_clear_error(app_env):
    at = _app(page="settings")
    # The default comes from the environment (RAG_LLM_PROVIDER=scripted here).
    assert at.radio(key="settings_primary_provider").value == "scripted"
    at.radio(key="settings_primary_provider").set_value("openai").run()
    _ok(at)
    at.text_input(key="settings_primary_openai_base_url").input("http://127.0.0.1:9/v1")
    at.text_input(key="settings_primary_openai_model").input("gpt-test")
    at.text_input(key="settings_primary_openai_api_key").input("sk-secret-123").run()
    _ok(at)
    cfg = at.session_state[_cfg_key("primary")]
    assert (cfg.provider, cfg.base_url, cfg.model) == ("openai", "http://127.0.0.1:9/v1",
                                                        "gpt-test")
    assert "sk-secret-123" not in repr(cfg)
    at.button(key="settings_primary_test").click().run()
    _ok(at)
    errors = [e.value for e in at.error]
    assert any("cannot reach the model endpoint at http" in e for e in errors), errors
    assert not any("Traceback" in t for t in _markup(at))
    assert not any("sk-secret-123" in t for t in _markup(at))
    # The choice survives a trip to another page (it is not only widget state).
    _goto(at, "ask")
    assert any("openai · gpt\\-test" in c.value for c in at.caption)
    _goto(at, "settings")
    assert at.radio(key="settings_primary_provider").value == "openai"
    assert at.text_input(key="settings_primary_openai_base_url").value == "http://127.0.0.1:9/v1"


def test_settings_test_connection_success_and_facts(app_env):
    REPLY["text"] = "OK"
    at = _app(page="settings")
    at.button(key="settings_primary_test").click().run()
    _ok(at)
    assert any("answered “OK”" in s.value for s in at.success)
    facts = "\n".join(m.value for m in at.markdown)
    assert "Data folder" in facts and "on disk at" in facts and "all\\-MiniLM\\-L6\\-v2" in facts
    assert "Local chat model" in facts


def test_settings_offers_each_installed_local_model(app_env, monkeypatch):
    from rag.llm.local_model import QWEN_05B, QWEN_15B
    from rag.ui.pages import settings as settings_page

    monkeypatch.setattr(settings_page, "installed_packaged", lambda d: [QWEN_05B])
    at = _app(page="settings")
    at.radio(key="settings_primary_provider").set_value("local").run()
    _ok(at)
    assert not [b for b in at.selectbox if b.label == "Local model"]  # one model: no choice
    monkeypatch.setattr(settings_page, "installed_packaged", lambda d: [QWEN_05B, QWEN_15B])
    at.run()
    box = at.selectbox(key="settings_primary_local_model")
    assert box.value == "" and len(box.options) == 2 and "0.5B (default)" in box.options[0]
    box.set_value(QWEN_15B.key).run()
    _ok(at)
    cfg = at.session_state[_cfg_key("primary")]
    assert (cfg.provider, cfg.model) == ("local", QWEN_15B.key)
    assert cfg.label == f"local · {QWEN_15B.key}"


@pytest.fixture
def fake_ollama() -> Iterator[tuple[str, list]]:
    """A tiny server speaking Ollama's streaming /api/chat; records the requests."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for text, done in (("O", False), ("K", False), ("", True)):
                line = {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": text}, "done": done}
                if done:
                    line["done_reason"] = "stop"
                self.wfile.write((json.dumps(line) + "\n").encode())

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", seen
    srv.shutdown()
    srv.server_close()


def test_settings_ollama_test_connection(app_env, fake_ollama):
    url, seen = fake_ollama
    at = _app(page="settings")
    at.radio(key="settings_compare_provider").set_value("ollama").run()
    box = at.text_input(key="settings_compare_ollama_base_url")
    assert box.value == settings_page.OLLAMA_URL  # the default
    box.input("http://127.0.0.1:9")
    at.text_input(key="settings_compare_ollama_model").input("llama3.2").run()
    at.button(key="settings_compare_test").click().run()
    _ok(at)
    assert any("cannot reach the model endpoint at http" in e.value for e in at.error)
    at.text_input(key="settings_compare_ollama_base_url").input(url).run()
    at.button(key="settings_compare_test").click().run()
    _ok(at)
    assert any("ollama · llama3.2 answered “OK”" in _plain(s.value) for s in at.success)
    path, body = seen[-1]
    assert path == "/api/chat" and body["options"]["num_predict"] == 8
    assert at.session_state[_cfg_key("compare")].base_url == url


def test_operator_api_key_is_never_sent_to_the_browser(app_env, monkeypatch):
    monkeypatch.setenv("RAG_LLM_PROVIDER", "openai")
    monkeypatch.setenv("RAG_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RAG_LLM_MODEL", "gpt-test")
    monkeypatch.setenv("RAG_LLM_API_KEY", "sk-operator")
    get_settings.cache_clear()
    state.clear_services()
    at = _app(page="settings")
    key_box = at.text_input(key="settings_primary_openai_api_key")
    assert key_box.value == "" and "server" in key_box.placeholder
    assert not any("sk-operator" in str(getattr(n, "proto", "")) for n in walk(at._tree))
    assert at.session_state.get(_cfg_key("primary")) is None  # the server's config
    # Pointed at another endpoint, the operator's key is not sent along.
    at.text_input(key="settings_primary_openai_base_url").input("http://127.0.0.1:8/v1").run()
    assert at.session_state[_cfg_key("primary")].api_key == ""


# -- the real embedded model -----------------------------------------------------------------


@pytest.mark.slow
def test_real_local_model_answers_the_demo_call(tmp_path, monkeypatch):
    # The model path (numeric questions are computed from cells by default).
    monkeypatch.setenv("RAG_COMPUTE_FIGURES", "false")
    from conftest import DEMO_DIR

    from rag.config import Settings
    from rag.llm.local_model import ensure_packaged_model

    gguf = ensure_packaged_model(Path.home() / ".ragdesk" / "models")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_LOCAL_MODEL_PATH", str(gguf))
    get_settings.cache_clear()
    state.clear_services()
    try:
        s = Settings()
        emb = state._embedder(s.embed_model, s.embed_backend, s.embed_batch_size, s.threads)
        if isinstance(emb, state.BackgroundEmbedder):
            emb.load()
        call = DEMO_DIR / "northwind_q2_2026_earnings_call.txt"
        _ingest([(call.name, call.read_bytes())])
        at = _app(timeout=SLOW_TIMEOUT)
        assert get_settings().llm_provider == "local"
        at = _ask(at, REVENUE_Q)
        (turn,) = _turns(at)
        assert turn.answer is not None, turn.error
        assert "412.6" in turn.answer.text, turn.answer.raw
        assert any("412\\.6" in m.value and ":blue-badge[" in m.value for m in at.markdown)
        sources = _sources(at)
        assert any("northwind\\_q2\\_2026\\_earnings\\_call" in s for s in sources), sources
        assert turn.answer.model.startswith("local")
    finally:
        state.clear_services()
        get_settings.cache_clear()


def test_computed_figures_table_shows_a_blank_never_none():
    from rag.ui.pages import ask as ask_page

    def operand(page, label):
        return {"name": "Revenue", "period": "FY2022", "text": "$1,234", "unit": "USD million",
                "citation": {"doc_id": "d", "doc_name": "sales.xlsx", "page": page,
                             "row_label": label, "span": "Revenue 1,234"}}

    rows = ask_page.operand_rows({"operands": [operand(None, None), operand(12, "Net sales")]})
    assert [r["page"] for r in rows] == ["", "12"]
    assert [r["row label"] for r in rows] == ["", "Net sales"]
    assert all(v is not None for r in rows for v in r.values())
