"""Real servers for the contract and replica suites, started on loopback in a temporary folder
and stopped afterwards: a throwaway PostgreSQL cluster (Debian's `postgresql` package, which
`.ci/run` installs), `chroma run` (the chromadb wheel's CLI), nginx in front of it checking
Chroma's token header (the token gate the README shows; `chroma run` itself has no auth),
nginx in front of several app replicas as one URL (the README's front proxy), and a real
OpenID Connect provider (`oidc-provider-mock`).

A server that cannot be started fails the test under CI (`CI=true`) and skips it elsewhere,
with the reason. `RAGDESK_TEST_DATABASE_URL` points the suites at an existing PostgreSQL
instead (a database they may fill and empty).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHROMA, free_port


def unavailable(reason: str):
    """Fail under CI, where every server must run; skip on a developer's machine."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _wait(ok, proc: subprocess.Popen | None, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-1500:]}")
        with contextlib.suppress(Exception):
            if ok():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer in {timeout:.0f} s: see {log}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- PostgreSQL --------------------------------------------------------------------------------


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian keeps it off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway cluster in a new folder of /tmp on a free loopback port; yields its URL.

    As root (CI), the cluster belongs to the `postgres` user, which PostgreSQL requires (so
    the folder is not under pytest's root-only tmp folders)."""
    import tempfile

    url = os.environ.get("RAGDESK_TEST_DATABASE_URL", "").strip()
    if url:
        yield url
        return
    bindir = pg_bin()
    if bindir is None:
        unavailable("no PostgreSQL server installed (apt-get install postgresql; .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="ragdesk-pg-"))
    data, log = root / "pgdata", root / "postgres.log"
    as_root = os.geteuid() == 0

    def run(*cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if as_root else list(cmd)

    if as_root:
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    try:
        subprocess.run(run(str(bindir / "initdb"), "-D", str(data), "-U", "ragdesk",
                           "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"),
                       check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        unavailable(f"initdb failed: {exc} {err.decode(errors='replace')[-500:]}")
    port = free_port()
    logf = open(log, "wb")  # noqa: SIM115 - open for the server's life
    proc = subprocess.Popen(run(str(bindir / "postgres"), "-D", str(data), "-p", str(port),
                                "-c", "listen_addresses=127.0.0.1", "-k", str(root),
                                "-c", "fsync=off", "-c", "synchronous_commit=off",
                                "-c", "full_page_writes=off"),
                            stdout=logf, stderr=subprocess.STDOUT)
    url = f"postgresql://ragdesk@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        try:
            _wait(lambda: psycopg.connect(url, connect_timeout=2).close() or True, proc,
                  "postgres", log)
        except RuntimeError as exc:
            unavailable(str(exc))
        yield url
    finally:
        _stop(proc)
        logf.close()
        shutil.rmtree(root, ignore_errors=True)


def empty_database(url: str) -> None:
    """Drop every table the suites made (a fresh schema for the next test)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA public CASCADE")
        con.execute("CREATE SCHEMA public")


# -- Chroma ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port with its data in `path`; yields its URL."""
    import chromadb

    if not CHROMA.exists():
        unavailable(f"no chroma CLI at {CHROMA} (the chromadb wheel ships it)")
    path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = path.parent / f"chroma-{port}.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=logf, stderr=subprocess.STDOUT)
        try:
            try:
                _wait(lambda: chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat(),
                      proc, "chroma run", log)
            except RuntimeError as exc:
                unavailable(str(exc))
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


# What both nginx configurations share: a pid file, logs and temp paths inside the test's
# folder (nginx otherwise writes under /var), one worker, no access log.
_NGINX_HEAD = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{{{ worker_connections {connections}; }}}}
http {{{{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
"""

# The README's token gate: only requests carrying Chroma's token header reach `chroma run`.
NGINX_CONF = _NGINX_HEAD.format(root="{root}", connections=64) + """
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            if ($http_x_chroma_token != "{token}") {{ return 401; }}
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


def _nginx() -> str:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if nginx is None:
        unavailable("no nginx installed (apt-get install nginx-light; .ci/run does)")
    return nginx


@contextlib.contextmanager
def _nginx_server(root: Path, conf: str, up, name: str) -> Iterator[None]:
    """nginx in the foreground with configuration `conf`, its files in `root`; returns once
    `up()` is true (fails or skips the test if it never is) and stops nginx afterwards."""
    nginx = _nginx()
    conf_path = root / "nginx.conf"
    conf_path.write_text(conf)
    log = root / "nginx.out"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([nginx, "-c", str(conf_path), "-p", str(root), "-e",
                                 str(root / "error.log"), "-g", "daemon off;"],
                                stdout=logf, stderr=subprocess.STDOUT)
        try:
            try:
                _wait(up, proc, name, log)
            except RuntimeError as exc:
                unavailable(str(exc))
            yield
        finally:
            _stop(proc)


@contextlib.contextmanager
def token_gate(root: Path, chroma_url: str, token: str) -> Iterator[str]:
    """nginx in front of `chroma_url`, passing only requests with `X-Chroma-Token: token`
    (the README's configuration); yields the gate's URL."""
    import urllib.request

    root.mkdir(parents=True, exist_ok=True)
    port = free_port()

    def up() -> bool:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/heartbeat",
                                     headers={"X-Chroma-Token": token})
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status == 200

    conf = NGINX_CONF.format(root=root, port=port, token=token,
                             upstream=chroma_url.split("://", 1)[1])
    with _nginx_server(root, conf, up, "nginx"):
        yield f"http://127.0.0.1:{port}"


# The README's front proxy (section "Several replicas behind one URL"): websockets passed
# through, each browser kept on one replica by a cookie nginx sets on its first request (a
# Streamlit session, its uploads and its media live in one replica's memory). {debug} adds a
# header naming the replica that answered, for the tests.
FRONT_CONF = _NGINX_HEAD.format(root="{root}", connections=256) + """
    client_max_body_size 200m;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    map $cookie_ragdesk_replica $ragdesk_replica {{
        "" $request_id;
        default $cookie_ragdesk_replica;
    }}
    upstream ragdesk {{
        hash $ragdesk_replica consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://ragdesk;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_buffering off;
            add_header Set-Cookie
                "ragdesk_replica=$ragdesk_replica; Path=/; HttpOnly; SameSite=Lax" always;
{debug}
        }}
    }}
}}
"""


@contextlib.contextmanager
def front_proxy(root: Path, upstreams: list[str], port: int | None = None) -> Iterator[str]:
    """nginx in front of the app replicas at `upstreams` (host:port each), as one URL on
    `port` (default: a free one); yields that URL. Each response names the replica that
    answered in `X-RAGdesk-Replica`."""
    import urllib.request

    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()

    def up() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200

    conf = FRONT_CONF.format(
        root=root, port=port, servers="\n".join(f"        server {u};" for u in upstreams),
        debug="            add_header X-RAGdesk-Replica $upstream_addr always;")
    with _nginx_server(root, conf, up, "nginx (front)"):
        yield f"http://127.0.0.1:{port}"


# -- an OpenID Connect provider ----------------------------------------------------------------


@contextlib.contextmanager
def oidc_provider(log: Path, users: list[tuple[str, str]]) -> Iterator[str]:
    """`oidc-provider-mock` (a real provider: discovery document, signed ID tokens, an
    authorization form) on a free loopback port, knowing `users` (email, name); yields its
    issuer URL."""
    import importlib.util
    import json
    import sys
    import urllib.request

    if importlib.util.find_spec("oidc_provider_mock") is None:
        unavailable("oidc-provider-mock is not installed (pip install -e '.[dev]')")
    port = free_port()
    claims = []
    for email, name in users:
        claims += ["--user-claims", json.dumps({"sub": email, "email": email, "name": name,
                                                "email_verified": True})]
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host",
                                 "127.0.0.1", "--port", str(port), *claims],
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            def up() -> bool:
                with urllib.request.urlopen(f"{url}/.well-known/openid-configuration",
                                            timeout=5) as r:
                    return json.load(r)["issuer"].rstrip("/") == url

            try:
                _wait(up, proc, "the OIDC provider", log)
            except RuntimeError as exc:
                unavailable(str(exc))
            yield url
        finally:
            _stop(proc)
