"""Sign-in through a real OpenID Connect provider, in a real Chromium, against the real app.

The fixture starts `oidc-provider-mock` (a real OIDC provider: discovery document, signed ID
tokens, an authorization form) on a loopback port, then the app by its launcher
(`python -m rag.ui.launch`) with the RAG_OIDC_* variables pointing at it. Two people sign in through `st.login`'s real redirect
flow in two separate browser contexts (two cookie jars): each creates a workspace and never
sees the other's, not in the picker and not by naming it in the URL; signing out returns to
the sign-in screen. With RAG_AUTH=required and no provider the app shows why it cannot start
and nothing else.

The provider's own form pulls a stylesheet from a CDN; that request is aborted (nothing leaves
the machine) and not held against the app: only requests made by the app's pages fail a test.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import servers

from .conftest import LOOPBACK, ROOT, screens_dir, start_app, stop_app

pytestmark = pytest.mark.browser

ALICE = ("alice@example.com", "Alice Analyst")
BOB = ("bob@example.com", "Bob Buyer")
ALICE_WS, BOB_WS = "Alice deals", "Bob notes"
CLIENT_SECRET = "client-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[str]:
    """A real OpenID Connect provider on loopback, knowing Alice and Bob (email and name)."""
    with servers.oidc_provider(tmp_path_factory.mktemp("oidc") / "provider.log",
                               [ALICE, BOB]) as url:
        yield url


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory, provider, browser_type_launch_args) -> Iterator[dict]:
    """The real app with the RAG_OIDC_* variables naming the provider."""
    tmp = tmp_path_factory.mktemp("signin_app")
    env = {"RAG_OIDC_CLIENT_ID": "ragdesk-test", "RAG_OIDC_CLIENT_SECRET": CLIENT_SECRET,
           "RAG_OIDC_ISSUER": provider,
           "RAG_OIDC_COOKIE_SECRET": secrets.token_hex(32),
           "RAG_OIDC_REDIRECT_URI": "http://127.0.0.1:{port}/oauth2callback"}
    url, proc, log = start_app(tmp, env)
    try:
        yield {"url": url, "data": tmp / "data", "log": log}
    finally:
        stop_app(proc, log)


class Outside:
    """Requests leaving the machine, aborted; those made by an app page fail the test."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.from_app: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []

    def route(self, route) -> None:
        req = route.request
        host = urlsplit(req.url).hostname or ""
        if req.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
            return
        try:
            origin = req.frame.url
        except Exception:  # noqa: BLE001 - a service worker's request has no frame
            origin = ""
        if origin.startswith(self.app_url):
            self.from_app.append(req.url)
        route.abort("blockedbyclient")

    def check(self) -> None:
        assert not self.dialogs, f"a JavaScript dialog opened: {self.dialogs}"
        assert not self.from_app, f"the app's pages sent requests off the machine: {self.from_app}"
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


@pytest.fixture
def person(browser, signin_app):
    """A factory of fresh browser contexts (one cookie jar each: one person each)."""
    from .browsing import App

    made = []

    def make() -> App:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        watch = Outside(signin_app["url"])
        context.route("**/*", watch.route)
        page = context.new_page()
        page.on("dialog", lambda d: (watch.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
        made.append((context, watch))
        return App(page, signin_app["url"], screens_dir())

    yield make
    for context, watch in made:
        context.close()
        watch.check()


def sign_in(app, email: str) -> None:
    """From the sign-in screen through the provider's form and back, as a person does."""
    app.goto("")
    app.wait_text("Sign in with your company account")
    assert "Single-user mode" not in app.page.inner_text("body")
    # (no settling here: the click navigates away from the app)
    app.main.get_by_role("button", name="Sign in").click()
    provider_form = app.page.get_by_role("button", name="Authorize")
    provider_form.wait_for(timeout=60_000)
    assert not app.page.url.startswith(app.url), app.page.url  # really at the provider
    app.page.get_by_placeholder("sub").fill(email)
    provider_form.click()
    app.page.wait_for_url(re.compile(re.escape(app.url) + r"/.*"), timeout=60_000)
    app.page.locator('[data-testid="stApp"]').wait_for(timeout=60_000)
    app.sidebar.get_by_text("Signed in as").wait_for(timeout=90_000)
    app.settle()


def create_workspace(app, name: str) -> None:
    app.sidebar.get_by_text("New workspace").click()
    app.fill("Name", name, within=app.sidebar)
    assert app.workspace_in_url() == name


def picker_options(app) -> list[str]:
    box = app.sidebar.get_by_role("combobox", name="Workspace").first
    box.click()
    options = app.page.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    names = [t.strip() for t in options.all_inner_texts()]
    box.press("Escape")
    app.settle()
    return names


def test_two_people_sign_in_and_see_only_their_own_workspaces(person, signin_app):
    alice = person()
    sign_in(alice, ALICE[0])
    assert ALICE[1] in alice.sidebar.inner_text()
    alice.shot("signin-01-alice-signed-in")
    create_workspace(alice, ALICE_WS)
    assert ALICE_WS in picker_options(alice)

    bob = person()
    sign_in(bob, BOB[0])
    assert BOB[1] in bob.sidebar.inner_text()
    create_workspace(bob, BOB_WS)
    bob_names = picker_options(bob)
    assert BOB_WS in bob_names and ALICE_WS not in bob_names
    bob.shot("signin-02-bob-own-workspaces")

    # Bob names Alice's workspace in the URL: refused, and he stays out of it.
    bob.page.goto(f"{bob.url}/?workspace={quote(ALICE_WS)}")
    bob.page.locator('[data-testid="stApp"]').wait_for(timeout=60_000)
    bob.settle()
    refusal = bob.page.get_by_text(f"not a member of workspace '{ALICE_WS}'")
    refusal.first.wait_for(timeout=30_000)
    bob.shot("signin-03-bob-refused-by-url")
    assert bob.workspace_in_url() != ALICE_WS
    assert ALICE_WS not in picker_options(bob)

    # Alice's session never learnt of Bob's workspace either.
    alice.goto("")
    alice_names = picker_options(alice)
    assert ALICE_WS in alice_names and BOB_WS not in alice_names

    # Both sign-ins are in the audit trail, with who and when.
    events = _audit(signin_app["data"])
    signed_in = {e["user"] for e in events if e["action"] == "auth.sign_in"}
    assert {ALICE[0], BOB[0]} <= signed_in
    created = {(e["user"], e["target"]) for e in events if e["action"] == "workspace.create"}
    assert {(ALICE[0], ALICE_WS), (BOB[0], BOB_WS)} <= created
    assert CLIENT_SECRET not in json.dumps(events)


def test_sign_out_returns_to_the_sign_in_screen(person, signin_app):
    carol = person()
    sign_in(carol, ALICE[0])
    carol.sidebar.get_by_role("button", name="Sign out").click()
    # Streamlit ends the provider's session too when it offers an end-session endpoint (the
    # provider asks to confirm), then comes back to the app.
    end = carol.page.get_by_role("button", name="End session")
    back = carol.page.get_by_text("Sign in with your company account")
    end.or_(back).first.wait_for(timeout=60_000)
    if end.count():
        end.click()
        carol.page.wait_for_url(re.compile(re.escape(carol.url) + r"/.*"), timeout=60_000)
    carol.goto("")
    carol.wait_text("Sign in with your company account")
    assert carol.sidebar.get_by_text("Signed in as").count() == 0
    carol.shot("signin-04-signed-out")
    assert "auth.sign_out" in {e["action"] for e in _audit(signin_app["data"])
                               if e["user"] == ALICE[0]}


def test_auth_required_without_a_provider_refuses_to_start(tmp_path, browser):
    url, proc, log = start_app(tmp_path, {"RAG_AUTH": "required"})
    try:
        page = browser.new_page()
        page.goto(url)
        message = page.get_by_text("RAGdesk cannot start: RAG_AUTH=required but no identity "
                                   "provider is configured")
        message.first.wait_for(timeout=90_000)
        page.screenshot(path=str(screens_dir() / "signin-05-required-no-provider.png"))
        assert page.get_by_role("button", name="Sign in").count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.close()
    finally:
        stop_app(proc, log)


def _audit(data_dir: Path) -> list[dict]:
    """The audit trail as `ragdesk audit --json` prints it, read by the admin CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    # (`python -m rag.cli` from the checkout: the venv's `ragdesk` script may import another
    # checkout's rag, whose migrations stop earlier)
    out = subprocess.run([sys.executable, "-m", "rag.cli", "audit", "--json"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
