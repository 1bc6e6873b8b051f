"""Start time of the app: the launcher (`python -m rag.ui.launch`, what `make run` runs) against
plain `streamlit run app.py`, in the same run, single-user default (no RAG_OIDC_*).

    .venv/bin/python benchmarks/startup.py [--repeat 7]

Each start is a fresh server process on a free loopback port with a fresh data dir; the clock
runs from the spawn until `/_stcore/health` answers 200 (the server is up) and until the app's
index page is served (`/` answers 200; the page's script then runs when a browser connects). The two commands alternate their order each round;
figures are medians and the ratio compares them within this run. Run it under the CPU lock:
a start is mostly Python imports, which a busy machine slows.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


def start_once(kind: str) -> tuple[float, float]:
    """Seconds until health answers, and until the first page is served."""
    port = _free_port()
    opts = ["--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]
    cmd = ([PY, "-m", "rag.ui.launch", *opts] if kind == "launcher"
           else [PY, "-m", "streamlit", "run", str(ROOT / "app.py"), *opts])
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_OIDC_")}
    with tempfile.TemporaryDirectory() as tmp:
        env.update(RAG_DATA_DIR=str(Path(tmp) / "data"), HF_HUB_OFFLINE="1")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            health = page = None
            deadline = t0 + 120
            while time.perf_counter() < deadline and page is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"{kind} exited with {proc.returncode}")
                if health is None and _ok(f"http://127.0.0.1:{port}/_stcore/health"):
                    health = time.perf_counter() - t0
                if health is not None and _ok(f"http://127.0.0.1:{port}/"):
                    page = time.perf_counter() - t0
                time.sleep(0.05)
            if health is None or page is None:
                raise RuntimeError(f"{kind} did not answer in 120 s")
            return health, page
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    kinds = ["launcher", "streamlit run"]
    start_once("streamlit run")  # warm the file cache: the first start reads every module cold
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for i in range(args.repeat):
        for kind in (kinds if i % 2 == 0 else kinds[::-1]):
            times[kind].append(start_once(kind))
    print(f"start time, single-user default, {args.repeat} starts each (seconds):")
    print(f"  {'command':<16}{'health p50':>12}{'index p50':>10}{'index min':>10}{'index max':>10}")
    med = {}
    for kind in kinds:
        h = [t[0] for t in times[kind]]
        p = [t[1] for t in times[kind]]
        med[kind] = statistics.median(p)
        print(f"  {kind:<16}{statistics.median(h):>12.2f}{med[kind]:>10.2f}{min(p):>10.2f}"
              f"{max(p):>10.2f}")
    print(f"  launcher / streamlit run (index p50): {med['launcher'] / med['streamlit run']:.2f}")


if __name__ == "__main__":
    main()
