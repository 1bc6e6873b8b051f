"""Two real app servers behind one URL, with sign-in, as one product, in a real Chromium.

Two replicas started by the launcher (`python -m rag.ui.launch`, as `make run` does), each
with its own data dir, on one `chroma run` and one throwaway PostgreSQL cluster, behind the
README's nginx front proxy (websockets passed through, a browser kept on one replica by the
`ragdesk_replica` cookie), sharing one real OpenID Connect provider. The test picks the
replica by setting that cookie (nginx names the one that answered in `X-RAGdesk-Replica`):

- sign-in starts on replica 1 and the provider's callback lands on replica 2, which has run
  no page yet: it must know its sign-in settings from its start (the launcher's secrets
  file), not from a first script run;
- a document ingested on replica 1 is listed and found by search on replica 2;
- a question asked on replica 2 is on replica 1's Dashboard;
- a document deleted on replica 1 is gone on replica 2.

And the launcher's secrets file is readable by its owner only, lives under no data dir, holds
the client secret that no log or data file holds, and is gone when the server stops.
"""

from __future__ import annotations

import re
import secrets
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import servers

from .browsing import App
from .conftest import screens_dir, start_app, stop_app
from .test_signin import Outside

pytestmark = [pytest.mark.browser, pytest.mark.server]

ALICE = ("alice@example.com", "Alice Analyst")
WS = "Shared deals"
CLIENT_SECRET = "client-replicas-" + secrets.token_hex(8)
COOKIE = "ragdesk_replica"
BEACON = (b"Beacon arm update.\n\nThe Beacon arm ships zirconium batteries to Lisbon every "
          b"May. Each shipment holds 1,200 battery packs.")
OSAKA = (b"Staffing plan.\n\nThe Osaka office hires four analysts in the third quarter to "
         b"cover the new accounts.")
DOCS = [("beacon.txt", BEACON), ("osaka.txt", OSAKA)]
QUESTION = "Where does the Beacon arm ship zirconium batteries?"
ANSWER_TIMEOUT = 240  # the replica's first answer may wait for its chat model to load


@pytest.fixture(scope="module")
def stack(tmp_path_factory, browser_type_launch_args) -> Iterator[dict]:
    """PostgreSQL, `chroma run`, the provider, two replicas by the launcher and nginx."""
    tmp = tmp_path_factory.mktemp("replicas_ui")
    with servers.postgres_server() as pg, servers.chroma_server(tmp / "chroma") as chroma, \
            servers.oidc_provider(tmp / "provider.log", [ALICE]) as issuer:
        servers.empty_database(pg)
        front_port = servers.free_port()
        env = {"RAG_CHROMA_URL": chroma, "RAG_DATABASE_URL": pg,
               "RAG_OIDC_CLIENT_ID": "ragdesk-replicas", "RAG_OIDC_CLIENT_SECRET": CLIENT_SECRET,
               "RAG_OIDC_ISSUER": issuer, "RAG_OIDC_COOKIE_SECRET": secrets.token_hex(32),
               "RAG_OIDC_REDIRECT_URI": f"http://127.0.0.1:{front_port}/oauth2callback"}
        temps = [tmp / f"replica{i}" / "tmp" for i in (1, 2)]  # each one's TMPDIR
        for t in temps:
            t.mkdir(parents=True)
        with ThreadPoolExecutor(2) as pool:  # both start at once
            futures = [pool.submit(start_app, t.parent, {**env, "TMPDIR": str(t)})
                       for t in temps]
            started = [f.result() for f in futures]
        files = [_secrets_file(t) for t in temps]
        try:
            upstreams = [url.split("://", 1)[1] for url, _, _ in started]
            with servers.front_proxy(tmp / "front", upstreams, port=front_port) as front:
                yield {"front": front, "replicas": upstreams, "route": _routes(front, upstreams),
                       "apps": started, "secrets": files,
                       "data": [tmp / f"replica{i}" / "data" for i in (1, 2)]}
        finally:
            for _, proc, log in started:
                stop_app(proc, log)
        assert not [f for f in files if f.parent.exists()], "a secrets file outlived its server"


def _secrets_file(tmpdir: Path) -> Path:
    """The secrets file the launcher wrote in a replica's temp dir (there is one)."""
    files = list(tmpdir.glob("ragdesk-auth-*/secrets.toml"))
    assert len(files) == 1, f"the launcher wrote {len(files)} secrets files in {tmpdir}"
    return files[0].resolve()


def _routes(front: str, upstreams: list[str]) -> dict[str, str]:
    """A `ragdesk_replica` cookie value that nginx sends to each replica."""
    import urllib.request

    found: dict[str, str] = {}
    for i in range(200):
        req = urllib.request.Request(f"{front}/_stcore/health",
                                     headers={"Cookie": f"{COOKIE}=route{i}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            found.setdefault(r.headers["X-RAGdesk-Replica"], f"route{i}")
        if set(upstreams) <= set(found):
            return found
    raise AssertionError(f"nginx sent 200 cookies to only {sorted(found)}")


def test_two_replicas_behind_one_url_with_sign_in_are_one_product(browser, stack):
    front, (r1, r2), route = stack["front"], stack["replicas"], stack["route"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    watch = Outside(front)
    context.route("**/*", watch.route)
    page = context.new_page()
    page.on("dialog", lambda d: (watch.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    answered_by: dict[str, str] = {}
    page.on("response", lambda r: answered_by.__setitem__(
        r.url.split("?")[0].rsplit("/", 1)[-1], r.headers.get("x-ragdesk-replica", "")))
    app = App(page, front, screens_dir())

    def on(replica: str) -> None:
        context.add_cookies([{"name": COOKIE, "value": route[replica], "url": front}])

    try:
        # Sign-in starts on replica 1; the provider's callback lands on replica 2, fresh.
        on(r1)
        app.goto("")
        app.wait_text("Sign in with your company account")
        app.main.get_by_role("button", name="Sign in").click()
        authorize = page.get_by_role("button", name="Authorize")
        authorize.wait_for(timeout=60_000)
        assert answered_by.get("login") == r1, answered_by
        on(r2)
        page.get_by_placeholder("sub").fill(ALICE[0])
        authorize.click()
        page.wait_for_url(re.compile(re.escape(front) + r"/.*"), timeout=60_000)
        app.sidebar.get_by_text("Signed in as").wait_for(timeout=90_000)
        app.settle()
        assert answered_by.get("oauth2callback") == r2, answered_by
        app.shot("replicas-01-signed-in-through-replica-2")

        # Ingested on replica 1 ...
        on(r1)
        app.goto("library")
        assert ALICE[1] in app.sidebar.inner_text()
        app.sidebar.get_by_text("New workspace").click()
        app.fill("Name", WS, within=app.sidebar)
        page.locator('input[type="file"]').first.set_input_files(
            [{"name": n, "mimeType": "text/plain", "buffer": b} for n, b in DOCS])
        app.settle()
        app.main.get_by_role("button", name=re.compile(r"^Add 2 files to")).click()
        app.wait_text("2 files processed", timeout=180)
        assert answered_by.get("library") == r1, answered_by

        # ... found on replica 2 by its search (its keyword index never saw the documents;
        # dense-only search across processes: tests/test_replicas.py).
        on(r2)
        app.goto("library", workspace=WS)
        assert answered_by.get("library") == r2, answered_by
        assert "Documents (2)" in app.text() and _documents(app) == ["beacon", "osaka"]
        page.get_by_role("tab", name="Search").click()
        for query in ("zirconium Lisbon", "battery packs shipped every May"):
            app.fill("Search this workspace", query)
            assert "zirconium" in app.text(), query
        app.shot("replicas-02-replica-2-finds-replica-1s-document")

        # A question asked on replica 2 ...
        app.goto("ask", workspace=WS)
        box = page.locator('[data-testid="stChatInput"] textarea')
        box.fill(QUESTION)
        box.press("Enter")
        app.settle(ANSWER_TIMEOUT)
        app.wait_text("How this answer was made", timeout=ANSWER_TIMEOUT)
        assert answered_by.get("ask") == r2, answered_by

        # ... is on replica 1's Dashboard.
        on(r1)
        # The log is written as the answer finishes, so the Dashboard may be drawn a moment
        # before it lands: reload it (as a user would) for up to a minute.
        asked = re.compile(r"\b1 question asked\b")
        for _ in range(12):
            app.goto("", workspace=WS)
            if asked.search(app.text()):
                break
            page.wait_for_timeout(5000)
        else:
            app.shot("replicas-03-failed-dashboard-without-the-question")
        app.wait_text(asked, timeout=5)
        assert answered_by.get("") == r1, answered_by
        app.shot("replicas-03-replica-1-dashboard-has-replica-2s-question")

        # Deleted on replica 1: gone on replica 2.
        app.goto("library", workspace=WS)
        app.select("Open a document", re.compile("beacon"))
        app.click("Delete this document")
        app.click("Yes, delete")
        app.wait_text("Deleted 'beacon'")
        on(r2)
        app.goto("library", workspace=WS)
        assert answered_by.get("library") == r2, answered_by
        assert "Documents (1)" in app.text() and _documents(app) == ["osaka"]
        page.get_by_role("tab", name="Search").click()
        app.fill("Search this workspace", "zirconium Lisbon")
        assert "zirconium" not in app.text().replace("zirconium Lisbon", "")
        app.fill("Search this workspace", "Osaka office hires analysts")
        assert "third quarter" in app.text()
        app.shot("replicas-04-deleted-on-1-gone-on-2")
    except BaseException:
        if not page.is_closed():
            app.shot("FAILED-replicas")
        raise
    finally:
        context.close()
    watch.check()


def _documents(app: App) -> list[str]:
    """The document names the Library's "Open a document" picker offers."""
    box = app.main.get_by_role("combobox", name="Open a document").first
    box.click()
    options = app.page.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    names = sorted(t.split("(")[0].strip() for t in options.all_inner_texts())
    box.press("Escape")
    app.settle()
    return names


def test_the_launchers_secrets_file_is_its_owners_alone(stack):
    """Each replica's sign-in settings are in a file only its owner can read, outside every
    data dir; the client secret is in no log and no data file (the test above signed in, so
    the replicas have used it), and the file is gone when the server stops."""
    import os

    data_dirs = [d.resolve() for d in stack["data"]]
    for (_, _, log), path in zip(stack["apps"], stack["secrets"], strict=True):
        st = path.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert not any(path.is_relative_to(d) for d in data_dirs), path
        assert CLIENT_SECRET in path.read_text()
        assert CLIENT_SECRET not in log.read_text(errors="replace")
    for d in data_dirs:
        held = [p for p in d.rglob("*") if p.is_file() and CLIENT_SECRET.encode() in
                p.read_bytes()]
        assert held == []
