"""The app's sign-in gate.

No identity provider configured: single-user mode, no login, and the sidebar says so. With one
(`.streamlit/secrets.toml` [auth], or RAG_OIDC_* translated here), every page needs sign-in
through `st.login`; the services learn the signed-in user from the session (`set_resolver`),
so a widget callback that runs before the page does is checked as well.
"""

from __future__ import annotations

import streamlit as st

from rag.auth import guard, oidc
from rag.auth.errors import AccessDenied, AuthNotConfigured
from rag.auth.principal import Principal, local_principal, principal_for
from rag.config import get_settings
from rag.errors import RagError

_SIGNED_IN_KEY = "_auth_signed_in"


def install_env_secrets() -> bool:
    """Give Streamlit the [auth] section built from RAG_OIDC_* (a secrets file's own [auth]
    section wins). True when one was installed.

    The launcher (`rag.ui.launch`, `make run`) has already given it to Streamlit before its
    server started, which a callback landing on a replica that has run no page needs; this is
    the fallback for a bare `streamlit run app.py` (one replica: sign-in works from its
    first page on)."""
    section = oidc.env_auth_section()
    if section is None or oidc.file_auth_section() is not None:
        return False
    from streamlit.runtime.secrets import secrets_singleton

    if secrets_singleton.load_if_toml_exists() and "auth" in secrets_singleton:
        return False  # the launcher's secrets file
    secrets_singleton.merge_programmatic_secrets({"auth": section})
    return True


def _logged_in() -> bool:
    try:
        return bool(st.user.get("is_logged_in"))
    except Exception:  # noqa: BLE001 - no session (bare mode) or no auth configured
        return False


def session_principal() -> Principal | None:
    """The signed-in user of the running Streamlit session, if any."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx() is None or not _logged_in():
        return None
    email = st.user.get("email") or ""
    return principal_for(str(email), get_settings(), name=str(st.user.get("name") or "")) \
        if email else None


def gate() -> Principal:
    """Who uses this page; stops the script at a sign-in screen when nobody is signed in."""
    settings = get_settings()
    try:
        mode = oidc.auth_mode(settings)
    except AuthNotConfigured as err:
        st.error(f"RAGdesk cannot start: {err}")
        st.stop()
    if mode == oidc.SINGLE:
        guard.set_resolver(None)
        return local_principal()
    install_env_secrets()
    guard.set_resolver(session_principal)
    if not _logged_in():
        st.title("RAGdesk")
        st.write("Sign in with your company account to see your workspaces.")
        st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")
        st.stop()
    who = session_principal()
    if who is None:
        st.error("Your identity provider gave no email address: RAGdesk needs one to know "
                 "your workspaces.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    if st.session_state.get(_SIGNED_IN_KEY) != who.email:
        from rag.ui import state

        state.services().access.record(who, "auth.sign_in", detail={"admin": who.is_admin})
        st.session_state[_SIGNED_IN_KEY] = who.email
    _refuse_foreign_link()
    return who


def _refuse_foreign_link() -> None:
    """A link (`?workspace=NAME`) to a workspace this user is not a member of: say so, on
    the session's first run (the picker then opens one of the user's own)."""
    from rag.ui import state

    wanted = st.query_params.get(state.WS_PARAM)
    if not wanted or st.session_state.get(state.WS_KEY):
        return
    try:
        state.services().workspace(wanted)
    except AccessDenied as err:
        st.error(f"That link was refused: {err}.", icon=":material/block:")
    except RagError:  # no such workspace (yet): the picker handles it
        pass


def identity(who: Principal) -> None:
    """In the sidebar: single-user mode, or who is signed in and a sign-out button."""
    if who.local:
        st.caption(oidc.SINGLE_USER_NOTE, help="Anyone who reaches this app acts as its "
                   "owner. Configure an identity provider (README: Sign-in) to require "
                   "sign-in and workspace membership.")
        return
    label = who.name or who.email
    st.caption(f"Signed in as **{label}**" + (" · admin" if who.is_admin else ""),
               help=who.email)
    st.button("Sign out", icon=":material/logout:", on_click=_sign_out, key="_auth_sign_out")


def _sign_out() -> None:
    who = session_principal()
    if who is not None:
        from rag.ui import state

        state.services().access.record(who, "auth.sign_out")
    st.session_state.pop(_SIGNED_IN_KEY, None)
    st.logout()


# -- the audit trail's hooks of the pages ----------------------------------------------------------


def audit(action: str, ws_name: str | None = None, target: str = "", **detail) -> None:
    """Record what this session's user did (an export, a settings change) in the audit trail,
    with the workspace it concerns. Never stops the page: a record that cannot be written is
    logged by `Access.record`, and a user the services cannot name records nothing."""
    from rag.ui import state

    try:
        svc = state.services()
        who = svc.principal()
        coll = svc.store.collection_for(ws_name) if ws_name else None
    except RagError:
        return
    if ws_name:
        detail["workspace_name"] = ws_name
    svc.access.record(who, action, coll, target=target, detail=detail)


def exported(what: str, file_name: str, ws_name: str | None = "") -> None:
    """A download button's `on_click`: the export (`what`: answers, brief, themes, audit...)
    goes into the audit trail as `export.<what>` with the file's name. `ws_name`: "" (the
    default) the session's current workspace; None, no workspace (the audit trail itself)."""
    if ws_name == "":
        from rag.ui import state

        ws_name = state.current_workspace_name()
    audit(f"export.{what}", ws_name, target=file_name)
