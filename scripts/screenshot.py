"""Screenshot a page in headless Chromium, waiting in real time for a Streamlit run to finish.

`chromium --screenshot` with a virtual-time budget fires as soon as the page is idle, which for
a Streamlit app on a busy machine is often before the script's output has arrived over the
websocket (a blank page). This drives Chromium over the DevTools protocol instead: it waits
until the app reports `data-test-script-state="notRunning"` and the text on the page has stopped
changing, then captures. Plain (non-Streamlit) pages are captured once loaded.

Steps run before the capture, each followed by the same wait, so a flow can be checked:

    python scripts/screenshot.py http://localhost:8599 /tmp/x.png \
        --step "click:Load the demo workspace" --step "fill:Search passages=battery swap" \
        --step "select:Open a document=northwind_q2"

`click:TEXT` clicks the button, tab or expander whose text is TEXT (else the first containing it); `fill:LABEL=TEXT`
types into the input labelled LABEL and presses Enter; `select:LABEL=TEXT` does the same on a
selectbox, which picks the first option matching TEXT; `upload:PATH[,PATH...]` puts files in
the page's first file uploader.

Usage: python scripts/screenshot.py URL OUT.png [--size 1400x1000] [--timeout 120] [--step ...]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

STATE_JS = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const text = (document.body && document.body.innerText) || '';
  if (!app) return (document.readyState === 'complete' && !document.getElementById('root'))
    ? 'plain|' + text.length : 'loading|0';
  return (app.getAttribute('data-test-script-state') || 'initial') + '|' + text.length
    + '|' + document.querySelectorAll('[data-testid="stElementContainer"]').length;
})()"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


FIND_JS = """((kind, text) => {
  const visible = (el) => { const r = el.getBoundingClientRect();
                            return r.width > 0 && r.height > 0; };
  let el = null;
  if (kind === 'click') {
    const all = document.querySelectorAll('button, [role="tab"], summary, a, label');
    const shown = [...all].filter((e) => visible(e) && e.innerText);
    el = shown.find((e) => e.innerText.trim() === text)
      || shown.find((e) => e.innerText.includes(text));
  } else {
    el = [...document.querySelectorAll('input, textarea')].find(
      (e) => visible(e) && e.getAttribute('aria-label') === text);
  }
  if (!el) return null;
  el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
})"""


class Page:
    """The smallest DevTools client: send a command, wait for its answer, ignore events."""

    def __init__(self, ws) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def __call__(self, method: str, **params):
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=60))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def state(self) -> str:
        return self("Runtime.evaluate", expression=STATE_JS,
                    returnByValue=True)["result"].get("value", "")

    def wait_ready(self, deadline: float, settle: float) -> str:
        """Until the app has finished its run and its text stays unchanged for `settle` s."""
        last, since, state = None, time.time(), ""
        while time.time() < deadline:
            state = self.state()
            done = state.startswith(("notRunning|", "plain|")) and not state.endswith("|0")
            if state != last:
                last, since = state, time.time()
            elif done and time.time() - since >= settle:
                break
            time.sleep(0.25)
        return state

    def click_at(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def step(self, spec: str) -> None:
        kind, _, arg = spec.partition(":")
        if kind == "upload":
            root = self("DOM.getDocument", depth=-1, pierce=True)["root"]["nodeId"]
            node = self("DOM.querySelector", nodeId=root, selector='input[type="file"]')["nodeId"]
            if not node:
                raise SystemExit(f"step '{spec}': no file input on the page")
            files = [str(Path(f).resolve()) for f in arg.split(",")]
            self("DOM.setFileInputFiles", files=files, nodeId=node)
            time.sleep(0.5)
            return
        if kind not in ("click", "fill", "select"):
            raise SystemExit(f"unknown step '{spec}': use click:TEXT, fill:LABEL=TEXT, "
                             "select:LABEL=TEXT or upload:PATH[,PATH...]")
        target, _, value = arg.partition("=") if kind != "click" else (arg, "", "")
        expr = f"{FIND_JS}({json.dumps('click' if kind == 'click' else 'input')}, " \
               f"{json.dumps(target)})"
        pos = self("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")
        if not pos:
            raise SystemExit(f"step '{spec}': nothing on the page matches")
        self.click_at(*pos)
        if kind != "click":
            time.sleep(0.3)
            mod = 2  # Ctrl: select what is there, so typing replaces it
            self("Input.dispatchKeyEvent", type="keyDown", key="a", code="KeyA",
                 modifiers=mod, windowsVirtualKeyCode=65)
            self("Input.dispatchKeyEvent", type="keyUp", key="a", code="KeyA", modifiers=mod,
                 windowsVirtualKeyCode=65)
            self("Input.insertText", text=value)
            time.sleep(0.3)
            for t in ("keyDown", "keyUp"):
                self("Input.dispatchKeyEvent", type=t, key="Enter", code="Enter",
                     windowsVirtualKeyCode=13, text="\r" if t == "keyDown" else "")
        time.sleep(0.5)


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: apt-get install -y chromium")


def _page_ws_url(profile: Path, deadline: float) -> str:
    port_file = profile / "DevToolsActivePort"
    while not port_file.exists() or not port_file.read_text().strip():
        if time.time() > deadline:
            raise TimeoutError("chromium did not start")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        if time.time() > deadline:
            raise TimeoutError("chromium has no page")
        time.sleep(0.1)


def _wait_http(url: str, deadline: float) -> None:
    """Until the server answers at all (a just-started app is not listening yet)."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.time() > deadline:
                raise SystemExit(f"{url} does not answer") from None
            time.sleep(0.5)


def shoot(url: str, out: Path, width: int, height: int, timeout: float, settle: float,
          steps: list[str] = ()) -> str:
    """Capture `url` (after the steps) into `out`; return the page state at capture time."""
    deadline = time.time() + timeout
    if url.startswith(("http://", "https://")):
        _wait_http(url, deadline)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp)
        proc = subprocess.Popen(
            [_browser(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            ws_url = _page_ws_url(profile, deadline)
            with connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30) as ws:
                page = Page(ws)
                page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                     deviceScaleFactor=1, mobile=False)
                page("Page.enable")
                page("Page.navigate", url=url)
                state = page.wait_ready(deadline, settle)
                for spec in steps:
                    page.step(spec)
                    state = page.wait_ready(deadline, settle)
                data = page("Page.captureScreenshot", format="png")["data"]
            out.write_bytes(base64.b64decode(data))
            return state
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="1400x1000", help="WIDTHxHEIGHT of the window")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait at most")
    ap.add_argument("--settle", type=float, default=1.5,
                    help="seconds the finished page must stay unchanged")
    ap.add_argument("--step", action="append", default=[],
                    help="click:TEXT, fill:LABEL=TEXT, select:LABEL=TEXT or upload:PATHS, "
                         "run in order before the capture")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    state = shoot(args.url, args.out, width, height, args.timeout, args.settle, args.step)
    if not state.startswith(("notRunning|", "plain|")):
        print(f"warning: captured before the page was ready ({state})", file=sys.stderr)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
