"""The app's sign-in gate and the Audit page, driven through Streamlit's AppTest (the real
app.py, on a fresh data dir with the hashing embedder). Signing in through a real identity
provider in a browser: tests/browser/test_signin.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptools import app_environment, walk
from streamlit.testing.v1 import AppTest

from rag.storage import db

APP = Path(__file__).resolve().parent.parent / "app.py"
TIMEOUT = 60

OIDC_ENV = {"RAG_OIDC_CLIENT_ID": "ragdesk", "RAG_OIDC_CLIENT_SECRET": "client-s3cret-x",
            "RAG_OIDC_ISSUER": "http://127.0.0.1:9/", "RAG_OIDC_COOKIE_SECRET": "cookie-x"}


class Silent:
    name = "silent"

    def stream(self, messages, max_tokens=512, temperature=0.0):
        yield "No."


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    yield from app_environment(tmp_path, monkeypatch, {"silent-auth": lambda cfg, s: Silent()})
    db.dispose_all()


def _texts(at: AppTest) -> str:
    out = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        for field in ("body", "label"):
            if proto is not None and isinstance(getattr(proto, field, None), str):
                out.append(getattr(proto, field))
    return "\n".join(out)


def _open(at: AppTest, url: str) -> AppTest:
    at._page_hash = next(h for h, info in at._registered_pages.items()
                         if info.get("url_pathname") == url)
    return at.run()


def test_single_user_mode_says_so_and_asks_for_no_sign_in(app_env):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Single-user mode: no sign-in configured" in _texts(at)
    assert not [b for b in at.button if b.label == "Sign in"]


@pytest.fixture
def seeded(app_env):
    """A workspace created (and so audited) before the app opens."""
    from rag.ui import state

    svc = state.services()
    svc.workspace("Board pack", create=True)
    return app_env


def test_audit_page_lists_records_filters_and_offers_csv(seeded):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at = _open(at, "audit")
    assert not at.exception, [e.value for e in at.exception]
    frames = [df.value for df in at.dataframe if "action" in df.value.columns]
    assert frames and list(frames[0]["action"]) == ["workspace.create"]
    assert list(frames[0]["workspace"]) == ["Board pack"]
    assert "Download CSV" in _texts(at)
    assert "Members of Board pack" in _texts(at)
    members = [df.value for df in at.dataframe if "email" in df.value.columns]
    assert list(members[0]["role"]) == ["owner"]


def test_sign_in_required_when_a_provider_is_configured(app_env, monkeypatch):
    for k, v in OIDC_ENV.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [b for b in at.button if b.label == "Sign in"]
    assert "Single-user mode" not in _texts(at)
    assert not at.dataframe and not at.file_uploader  # no page ran


def test_rag_auth_required_without_a_provider_refuses_to_start(app_env, monkeypatch):
    from rag.config import get_settings

    monkeypatch.setenv("RAG_AUTH", "required")
    get_settings.cache_clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert [e.value for e in at.error if "RAG_AUTH=required" in e.value]
    assert not [b for b in at.button if b.label == "Sign in"]


# -- exports and settings changes are audited -------------------------------------------------

CANARY_KEY = "sk-canary-3e8d1f0a9b27"


def _trail(action: str) -> list:
    from rag.ui import state

    svc = state.services()
    return svc.access.audit_events(svc.principal(), action=action)


def test_downloading_the_audit_csv_is_audited(seeded):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at = _open(at, "audit")
    assert _trail("export.") == []
    at.download_button(key="audit_download").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (e,) = _trail("export.")
    assert e.action == "export.audit" and e.workspace is None
    assert e.target.startswith("audit-") and e.target.endswith(".csv")


def test_downloading_a_conversation_is_audited_with_its_workspace(app_env):
    from rag.ingest.pipeline import Upload
    from rag.ui import state
    from rag.ui.pages import ask

    svc = state.services()
    ws = svc.workspace("Board pack", create=True)
    svc.ingestor(ws).ingest_many([Upload("call.txt", data=b"Revenue was $412.6 million.")])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["workspace"] = "Board pack"
    at = _open(at.run(), "ask")
    at.chat_input(key=ask.INPUT_KEY).set_value("What was revenue?").run()
    assert not at.exception, [e.value for e in at.exception]
    at.download_button(key="ask_download").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (e,) = _trail("export.")
    assert e.action == "export.answers" and e.workspace == ws.collection_name
    assert e.target.endswith("-conversation.md")
    assert e.detail["workspace_name"] == "Board pack"


def test_a_model_settings_change_is_audited_without_its_key(app_env):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at = _open(at, "settings")
    assert not at.exception, [e.value for e in at.exception]
    assert _trail("settings.") == []  # looking is not changing
    at.radio(key="settings_primary_provider").set_value("openai").run()
    at.text_input(key="settings_primary_openai_base_url").set_value(
        "http://user:pw-canary-91@127.0.0.1:9/v1").run()
    at.text_input(key="settings_primary_openai_model").set_value("gpt-test").run()
    at.text_input(key="settings_primary_openai_api_key").set_value(CANARY_KEY).run()
    assert not at.exception, [e.value for e in at.exception]
    events = _trail("settings.")
    assert events and all(e.action == "settings.model" for e in events)
    last = events[0]  # newest first
    assert last.target == "primary" and last.detail["provider"] == "openai"
    assert last.detail["model"] == "gpt-test" and last.detail["endpoint"] == "http://127.0.0.1:9"
    assert last.detail["key_from"] == "typed"
    for path in app_env.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert CANARY_KEY.encode() not in blob and b"pw-canary-91" not in blob, path
