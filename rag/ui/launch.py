"""Start the app: `python -m rag.ui.launch [streamlit options]` (what `make run` does).

Without RAG_OIDC_* this is exactly `streamlit run app.py [options]` (single-user mode, no
file written). With them, Streamlit must know its sign-in settings before its server starts,
not at the first script run: the server builds its session cookie's key from [auth]'s
cookie_secret when it starts, and `/oauth2callback` reads [auth] when a callback arrives. So
a callback that lands on a replica that has not run a page yet (behind one URL, sent there
by the front proxy) would fail. The launcher writes the [auth] section built from RAG_OIDC_*
to a secrets file that only this user can read (0600, in a 0700 folder of the temp dir,
never under the data dir and never logged), names it to Streamlit (`--secrets.files`, before
the usual `~/.streamlit/secrets.toml` and `./.streamlit/secrets.toml`, whose own [auth]
still wins), runs Streamlit in this process and removes the file when the server stops.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rag.auth import oidc
from rag.auth.errors import AuthNotConfigured

APP = Path(__file__).resolve().parents[2] / "app.py"
SECRETS_NAME = "secrets.toml"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a JSON string is a TOML basic string (same escapes; non-ASCII kept as it is)
    return json.dumps(str(value), ensure_ascii=False)


def auth_toml(section: Mapping[str, object]) -> str:
    """`[auth]` (and its `[auth.NAME]` tables) as TOML."""
    lines = ["[auth]"]
    tables = {k: v for k, v in section.items() if isinstance(v, Mapping)}
    lines += [f"{k} = {_toml_value(v)}" for k, v in section.items() if k not in tables]
    for name, table in tables.items():
        lines.append(f"\n[auth.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_auth_secrets(environ: Mapping[str, str] | None = None) -> Path | None:
    """The secrets file for Streamlit built from RAG_OIDC_*, or None when they configure no
    provider or a secrets file of the project or user already has one (it wins). Raises
    AuthNotConfigured for an incomplete RAG_OIDC_* set."""
    section = oidc.env_auth_section(environ)
    if section is None or oidc.file_auth_section() is not None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="ragdesk-auth-"))  # 0700, this user's
    path = folder / SECRETS_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(auth_toml(section))
    return path


def remove_auth_secrets(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)


def default_secrets_files() -> list[str]:
    """Where Streamlit would look without `--secrets.files` (STREAMLIT_SECRETS_FILES, or its
    user-wide and project files)."""
    env = os.environ.get("STREAMLIT_SECRETS_FILES", "").split()
    return env or [str(p) for p in oidc.secrets_files()]


def streamlit_argv(options: list[str], secrets: Path | None, app: Path = APP) -> list[str]:
    """`streamlit run APP` with `options`, and the secrets files when one was written."""
    argv = ["run", str(app)]
    if secrets is not None:
        for f in [str(secrets), *default_secrets_files()]:
            argv += ["--secrets.files", f]
    return argv + options


def main(argv: list[str] | None = None) -> int:
    options = list(sys.argv[1:] if argv is None else argv)
    try:
        secrets = write_auth_secrets()
    except AuthNotConfigured as err:
        print(f"RAGdesk cannot start: {err}", file=sys.stderr)
        return 2
    from streamlit.web import cli as stcli

    try:
        stcli.main(args=streamlit_argv(options, secrets), prog_name="streamlit")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        remove_auth_secrets(secrets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
