"""The browser suite's fixtures: the real app (`python -m rag.ui.launch`) started once for the
session on a free port with a fresh data dir, and Debian's Chromium driven by Playwright.

Every page of a test is guarded: a request to anything but this machine is aborted and fails
the test, and so does any JavaScript dialog (an `alert()` from HTML in a file name or a
document would be one). Playwright's own browser download is never used: the suite drives the
system's `chromium` (`RAGDESK_CHROMIUM` to point elsewhere) and skips, saying why, without it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1400, 1000
START_TIMEOUT = 180  # seconds for the app to answer its health check on a busy machine
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The system Chromium (Debian's `chromium`), or None."""
    wanted = os.environ.get("RAGDESK_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screens_dir() -> Path:
    """Where every page's screenshot goes (gitignored): RAGDESK_SCREENS or tests/browser/.screens."""
    folder = Path(os.environ.get("RAGDESK_SCREENS") or ROOT / "tests" / "browser" / ".screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"the app did not answer within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


# -- pytest-playwright's fixtures, pointed at the system Chromium ----------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    exe = chromium_path()
    if exe is None:
        why = "no chromium on this machine (apt-get install -y chromium; .ci/run does)"
        if os.environ.get("CI") == "true":  # CI installs it: a missing browser is a failure
            pytest.fail(why)
        pytest.skip(why)
    # launch() gives every browser a fresh temporary profile (user-data-dir).
    return {**browser_type_launch_args, "executable_path": exe, "headless": True,
            "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": WIDTH, "height": HEIGHT},
            "accept_downloads": True}


# -- the app -------------------------------------------------------------------------------


def start_app(tmp: Path, extra_env: dict[str, str] | None = None
              ) -> tuple[str, subprocess.Popen, Path]:
    """The app as `make run` starts it (`python -m rag.ui.launch`: `streamlit run app.py`,
    with RAG_OIDC_* handed to Streamlit before its server starts) on a free loopback port
    with a fresh data dir under `tmp` (`{port}` in an extra variable's value becomes the
    port); returns once it is healthy."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(tmp / "data"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1")
    env.update({k: v.replace("{port}", str(port)) for k, v in (extra_env or {}).items()})
    log = tmp / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.ui.launch", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
    except BaseException:
        stop_app(proc, log)
        raise
    return url, proc, log


def stop_app(proc: subprocess.Popen, log: Path) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    tail = log.read_text(errors="replace")
    if "Traceback" in tail:  # shown with the report, to explain a failed page
        print("app log tail:\n" + tail[-3000:])


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, browser_type_launch_args) -> Iterator[str]:
    """The real app, once for the session, in a fresh data dir; stopped at the end."""
    url, proc, log = start_app(tmp_path_factory.mktemp("browser_app"))
    try:
        yield url
    finally:
        stop_app(proc, log)


class Guard:
    """What a page did that it must not: requests leaving the machine, JavaScript dialogs,
    uncaught page errors."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []

    def route(self, route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("blockedbyclient")

    def dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self) -> None:
        assert not self.dialogs, f"a JavaScript dialog opened (HTML was executed): {self.dialogs}"
        assert not self.outside, f"requests left the machine: {self.outside}"
        assert not self.errors, f"uncaught errors in the page: {self.errors}"


@pytest.fixture
def guard(context) -> Iterator[Guard]:
    g = Guard()
    context.route("**/*", g.route)
    context.on("page", lambda p: p.on("dialog", g.dialog))
    yield g
    g.check()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def app(request, page, guard, app_url):
    """A guarded page of the running app (see `browsing.App`); a failed test leaves a
    screenshot of where it stopped (FAILED-<test>.png)."""
    from .browsing import App

    page.on("dialog", guard.dialog)
    page.on("pageerror", lambda exc: guard.errors.append(str(exc)))
    tab = App(page, app_url, screens_dir())
    yield tab
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and not page.is_closed():
        tab.shot(f"FAILED-{request.node.originalname}")
