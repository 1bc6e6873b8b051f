"""The sidebar: the workspace picker (and creating one) and a quick passage search."""

from __future__ import annotations

import streamlit as st

from rag.errors import RagError
from rag.services import Services
from rag.ui import state
from rag.ui.render import md, render_hit, show_error
from rag.ui.search import diverse_search

SIDEBAR_HITS = 3


def workspace_names(svc: Services) -> list[str]:
    """Existing workspaces, or just the default one (created on the first upload)."""
    names = [w["name"] for w in svc.list_workspaces()]  # the user's own (all for admins)
    return names or [state.DEFAULT_WORKSPACE]


def _create_workspace() -> None:
    """Form callback: create the typed workspace and switch to it."""
    name = (st.session_state.get("new_workspace_name") or "").strip()
    try:
        state.services().workspace(name, create=True)
    except RagError as err:
        st.session_state["_workspace_error"] = str(err)
        return
    st.session_state[state.WS_KEY] = name
    st.session_state["new_workspace_name"] = ""


def workspace_picker(svc: Services) -> str:
    """Draw the picker; return the chosen workspace's display name."""
    state.apply_workspace_switch()
    names = workspace_names(svc)
    state.workspace_from_url(names)
    current = st.session_state.get(state.WS_KEY)
    if current not in names:
        if current:  # e.g. just requested, or deleted by another replica: keep it visible
            names = sorted({*names, current}, key=str.lower)
        else:
            st.session_state[state.WS_KEY] = (
                state.DEFAULT_WORKSPACE if state.DEFAULT_WORKSPACE in names else names[0]
            )
    st.selectbox("Workspace", names, key=state.WS_KEY,
                 help="Each workspace has its own documents and index.")
    with st.expander("New workspace", icon=":material/add:"):
        with st.form("new_workspace", clear_on_submit=False, border=False):
            st.text_input("Name", key="new_workspace_name", max_chars=100,
                          placeholder="e.g. Board pack 2026")
            st.form_submit_button("Create", on_click=_create_workspace)
        err = st.session_state.pop("_workspace_error", None)
        if err:
            st.error(md(err))
    name = state.current_workspace_name()
    state.workspace_to_url(name)
    return name


def quick_search(svc: Services, ws_name: str) -> None:
    """A search box whose top passages show right here in the sidebar."""
    query = st.text_input("Search passages", key="sidebar_query",
                          placeholder="e.g. battery swap", icon=":material/search:")
    if not query.strip():
        return
    try:
        ws = state.open_workspace(svc, ws_name)
        if ws is None:
            st.caption("This workspace has no documents yet.")
            return
        state.ensure_model(svc)
        hits = diverse_search(svc.searcher(ws), query, k=SIDEBAR_HITS).hits
    except RagError as err:
        show_error(err)
        return
    if not hits:
        st.caption("No passage matches well.")
    for i, hit in enumerate(hits, 1):
        render_hit(i, hit, compact=True)
    if hits:
        st.caption("More results and full passages: Library → Search.")


def render() -> str | None:
    """The whole sidebar; returns the current workspace name (None if services failed)."""
    with st.sidebar:
        try:
            svc = state.services()
        except RagError as err:
            show_error(err)
            return None
        name = workspace_picker(svc)
        st.divider()
        quick_search(svc, name)
        return name
