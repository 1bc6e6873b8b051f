"""Is an identity provider configured? `.streamlit/secrets.toml`'s [auth] section (Streamlit's
own format for `st.login`), or RAG_OIDC_* environment variables that the app
(`rag.ui.auth.install_env_secrets`) hands to Streamlit:

    RAG_OIDC_CLIENT_ID, RAG_OIDC_CLIENT_SECRET
    RAG_OIDC_SERVER_METADATA_URL   (or RAG_OIDC_ISSUER: its /.well-known/openid-configuration)
    RAG_OIDC_COOKIE_SECRET         (a long random string, the same on every replica)
    RAG_OIDC_REDIRECT_URI          (default http://localhost:8501/oauth2callback)

None of them: single-user mode. The client and cookie secrets are never logged or audited
(`known_secrets` lists them for the audit trail's redaction).
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from rag.auth.errors import AuthNotConfigured

SINGLE, OIDC = "single", "oidc"
SINGLE_USER_NOTE = "Single-user mode: no sign-in configured"
_SECRET_ENV = ("RAG_OIDC_CLIENT_SECRET", "RAG_OIDC_COOKIE_SECRET", "RAG_CHROMA_TOKEN")


def env_auth_section(environ: Mapping[str, str] | None = None) -> dict | None:
    """Streamlit's [auth] section from RAG_OIDC_* variables, or None when they name none."""
    env = os.environ if environ is None else environ
    client_id = env.get("RAG_OIDC_CLIENT_ID", "").strip()
    if not client_id:
        return None
    metadata = env.get("RAG_OIDC_SERVER_METADATA_URL", "").strip()
    issuer = env.get("RAG_OIDC_ISSUER", "").strip()
    if not metadata and issuer:
        metadata = issuer.rstrip("/") + "/.well-known/openid-configuration"
    missing = [k for k, v in (("RAG_OIDC_CLIENT_SECRET", env.get("RAG_OIDC_CLIENT_SECRET")),
                              ("RAG_OIDC_SERVER_METADATA_URL or RAG_OIDC_ISSUER", metadata),
                              ("RAG_OIDC_COOKIE_SECRET", env.get("RAG_OIDC_COOKIE_SECRET")))
               if not (v or "").strip()]
    if missing:
        raise AuthNotConfigured("RAG_OIDC_CLIENT_ID is set but " + ", ".join(missing)
                                + (" is" if len(missing) == 1 else " are") + " not: set "
                                + ("it" if len(missing) == 1 else "them") + " too (or unset "
                                "RAG_OIDC_CLIENT_ID)")
    return {
        "redirect_uri": env.get("RAG_OIDC_REDIRECT_URI", "").strip()
        or "http://localhost:8501/oauth2callback",
        "cookie_secret": env["RAG_OIDC_COOKIE_SECRET"].strip(),
        "client_id": client_id,
        "client_secret": env["RAG_OIDC_CLIENT_SECRET"].strip(),
        "server_metadata_url": metadata,
        "client_kwargs": {"scope": env.get("RAG_OIDC_SCOPE", "").strip() or "openid email profile"},
    }


def secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for secrets.toml by default (user-wide, then the project's)."""
    return [Path.home() / ".streamlit" / "secrets.toml",
            (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def file_auth_section(paths: list[Path] | None = None) -> dict | None:
    """The [auth] section of the secrets files, when it names a provider."""
    section: dict = {}
    for path in paths if paths is not None else secrets_files():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        auth = data.get("auth")
        if isinstance(auth, dict):
            section.update(auth)
    has_provider = "client_id" in section or any(isinstance(v, dict) and "client_id" in v
                                                 for v in section.values())
    return section if has_provider else None


def auth_mode(settings, environ: Mapping[str, str] | None = None,
              paths: list[Path] | None = None) -> str:
    """SINGLE or OIDC; RAG_AUTH=required without a provider refuses (AuthNotConfigured)."""
    configured = env_auth_section(environ) is not None or file_auth_section(paths) is not None
    wanted = (getattr(settings, "auth", "") or "auto").strip().lower()
    if wanted not in ("auto", "required"):
        raise AuthNotConfigured(f"RAG_AUTH must be 'auto' or 'required', not '{wanted}'")
    if configured:
        return OIDC
    if wanted == "required":
        raise AuthNotConfigured(
            "RAG_AUTH=required but no identity provider is configured: add an [auth] section "
            "to .streamlit/secrets.toml or set RAG_OIDC_CLIENT_ID, RAG_OIDC_CLIENT_SECRET, "
            "RAG_OIDC_ISSUER and RAG_OIDC_COOKIE_SECRET")
    return SINGLE


def known_secrets(settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value this process knows (to keep out of the audit trail)."""
    env = os.environ if environ is None else environ
    out = [getattr(settings, "llm_api_key", "") or ""]
    out += [env.get(k, "") for k in _SECRET_ENV]
    url = getattr(settings, "database_url", None) or ""
    if url:
        from sqlalchemy.engine import make_url

        with contextlib.suppress(Exception):  # an unparseable URL holds no password field
            out.append(make_url(url).password or "")
    section = file_auth_section()
    if section:
        out += [str(v) for k, v in section.items() if "secret" in k]
        out += [str(x) for v in section.values() if isinstance(v, dict)
                for k, x in v.items() if "secret" in k]
    return [s for s in out if s]
