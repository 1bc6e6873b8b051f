"""The app's chrome, driven through AppTest: product name and local icon, viewer toolbar,
workspace in the URL, the conversation kept across sessions, example questions in an empty
chat. (The browser suite checks the same things as a person sees them.)"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.llm.prompts import REWRITE_SYSTEM

pytest.importorskip("streamlit")
from apptools import app_environment
from fakes import ScriptedChat
from streamlit.testing.v1 import AppTest

from rag.ui import brand, conversations, state
from rag.ui.demo import DEMO_QUESTIONS, DEMO_WORKSPACE
from rag.ui.pages import ask, library

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 120

CALL_TXT = (
    b"Northwind Robotics Q2 2026 earnings call\n\n"
    b"Dana Whitfield: Revenue in the second quarter was $412.6 million, up 18% year over year."
    b"\n\nDana Whitfield: We are raising our full-year revenue outlook to $1.68 billion.\n"
)
REPLY = "Revenue in the second quarter was $412.6 million, up 18% year over year. [1]"


def _reply(messages) -> str:
    if messages[0].content == REWRITE_SYSTEM:
        return "What was Northwind's revenue in the second quarter of 2026?"
    return REPLY


def _chat() -> ScriptedChat:
    return ScriptedChat(_reply, name="scripted · chrome", chunk=None)


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Iterator[Path]:
    yield from app_environment(tmp_path, monkeypatch,
                               {"scripted_chrome": lambda cfg, s: _chat()})


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _goto(at: AppTest, url_path: str) -> AppTest:
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == url_path)
    return at.run()


def _session(page: str = "ask", **query: str) -> AppTest:
    """A new Streamlit session (what a reload or a new tab is), opened at `page`."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    _ok(at)
    return _goto(at, page) if page != "dashboard" else at


def _param(at: AppTest) -> str:
    value = at.query_params[state.WS_PARAM]
    return value[-1] if isinstance(value, list) else value


def _ingest(ws: str = state.DEFAULT_WORKSPACE) -> None:
    reports = library.ingest_files(state.services(), ws, [("northwind_q2_call.txt", CALL_TXT)])
    assert all(r.ok for r in reports), [r.message for r in reports]


def test_streamlit_toolbar_is_in_viewer_mode():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["toolbarMode"] == "viewer"  # no Deploy button, no cloud dialog


def test_icon_and_logo_are_local_files_with_the_product_name():
    for path in (brand.ICON, brand.LOGO):
        text = path.read_text()
        assert text.lstrip().startswith("<svg") and "http" not in text.replace(
            'xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from elsewhere
    assert "RAG" in brand.LOGO.read_text() and brand.PRODUCT == "RAGdesk"
    source = APP.read_text()
    assert "page_icon=str(brand.ICON)" in source and ":material/" not in source


def test_workspace_is_put_in_the_url_and_taken_from_it(app_env):
    _ingest()
    state.services().workspace("Board pack", create=True)
    _ingest("Board pack")
    at = _session("ask")
    assert _param(at) == state.DEFAULT_WORKSPACE
    # A shared link (or a reload) naming a workspace opens it.
    at = _session("ask", workspace="Board pack")
    assert at.session_state[state.WS_KEY] == "Board pack"
    assert _param(at) == "Board pack"
    # A name this user does not have is ignored, never created.
    at = _session("ask", workspace="Nope")
    assert at.session_state[state.WS_KEY] == state.DEFAULT_WORKSPACE
    assert "Nope" not in [w["name"] for w in state.services().list_workspaces()]


def test_conversation_survives_a_new_session(app_env):
    _ingest()
    at = _session("ask")
    at.chat_input(key=ask.INPUT_KEY).set_value("What was revenue in Q2?").run()
    _ok(at)
    assert len(at.session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE]) == 1
    again = _session("ask")  # a reload: a new session, same user and workspace
    turns = again.session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE]
    assert [t.question for t in turns] == ["What was revenue in Q2?"]
    first = turns[0].answer
    assert first is not None and first.citations and first.citations[0].chunk.doc_name
    assert any("$412" in m.value or "412" in m.value for m in again.markdown)
    # Clearing the chat clears the kept copy too.
    again.button(key="ask_clear").click().run()
    _ok(again)
    assert _session("ask").session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE] == []


def test_conversation_file_round_trips_and_tolerates_damage(tmp_path):
    from rag.answer import Answer, Citation
    from rag.retrieve import SearchFilter
    from rag.types import Chunk, Hit

    c = Chunk("c1", "d1", "call", 0, "Revenue was $412.6 million.", kind="transcript",
              speaker="Dana", turn_start=2, turn_end=2)
    a = Answer("q", "q", "Revenue was $412.6 million. [1]",
               [Citation(1, c, "Revenue was $412.6 million.", 0.9, ("412.6",))], False,
               [Hit(c, 0.5, {"fused": 0.5})], "m", filter=SearchFilter(doc_ids=("d1",)))
    path = conversations.path_for(tmp_path, "ws_x", "a@example.com")
    assert conversations.save(path, [ask.Turn("q", answer=a)])
    (back,) = conversations.load(path, ask.Turn)
    assert back.answer == a
    path.write_text("{not json")
    assert conversations.load(path, ask.Turn) == []
    assert conversations.path_for(tmp_path, "ws_x", "b@example.com") != path


def test_empty_chat_offers_example_questions_that_ask(app_env):
    _ingest()
    at = _session("ask")
    examples = [b for b in at.button if b.key and b.key.startswith("ask_example_")]
    assert examples and "guidance" in examples[0].label
    examples[0].click().run()
    _ok(at)
    turns = at.session_state[ask.CHATS_KEY][state.DEFAULT_WORKSPACE]
    assert len(turns) == 1 and turns[0].question == ask.example_questions(
        state.DEFAULT_WORKSPACE, state.services().workspace("default").documents())[0]
    assert not [b for b in at.button if b.key and b.key.startswith("ask_example_")]


def test_demo_workspace_has_its_own_examples():
    assert ask.example_questions(DEMO_WORKSPACE, []) == list(DEMO_QUESTIONS)


def test_an_answers_bold_is_bold_and_nothing_else_is_markup():
    out = ask.answer_markdown("**Revenue, Q2 2026: $412.6 million** (call) [1]\n"
                              "**<b>x</b>** and ** loose ** :red[no]")
    assert out.startswith("**Revenue\\, Q2 2026\\: \\$412\\.6 million** ")
    assert ":blue-badge[1]" in out and "**\\<b\\>x\\<\\/b\\>**" in out
    assert "\\*\\* loose \\*\\*" in out and "\\:red\\[no\\]" in out
