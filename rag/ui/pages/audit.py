"""Audit: who did what, when, in which workspace (owners: their workspaces; admins: all),
with filters and a CSV download; and, for the current workspace's owner, its members."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from rag.auth.errors import AccessDenied
from rag.auth.principal import ROLES
from rag.errors import RagError
from rag.services import Services
from rag.ui import auth, state
from rag.ui.render import md, show_error

ACTIONS = ["", "auth", "workspace", "document", "question", "member", "settings", "export"]
LIMIT = 5000


def events_frame(events, names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row an event (newest first), its time in UTC; workspaces by their display name
    (`names`: collection -> name), else the one recorded with the event."""
    names = names or {}
    return pd.DataFrame([{
        "time": datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "user": e.user, "action": e.action,
        "workspace": names.get(e.workspace or "") or (e.detail or {}).get("workspace_name")
        or e.workspace or "",
        "target": e.target, "detail": ", ".join(f"{k}={v}" for k, v in (e.detail or {}).items()
                                                if k != "workspace_name"),
    } for e in events], columns=["time", "user", "action", "workspace", "target", "detail"])


def _day_start(d: date | None) -> float | None:
    return None if d is None else datetime.combine(d, time(), UTC).timestamp()


def _members(svc: Services) -> None:
    """The current workspace's members; its owner (or an admin) changes them here."""
    try:
        ws = state.open_workspace(svc)
    except RagError as err:
        show_error(err)
        return
    if ws is None:
        return
    st.subheader(f"Members of {ws.name}")
    st.dataframe(pd.DataFrame(svc.access.members(ws), columns=["email", "role", "added_by"]),
                 hide_index=True, width="stretch")
    if getattr(ws, "role", None) != "owner":  # the role rag.auth.guard opened it with
        st.caption("Only the workspace's owners change its members.")
        return
    with st.form("audit_member_form", border=True):
        c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
        email = c1.text_input("Email", placeholder="name@company.com")
        role = c2.selectbox("Role", ROLES)
        remove = c3.checkbox("Remove instead")
        if st.form_submit_button("Apply"):
            try:
                if remove:
                    svc.access.remove_member(ws, email)
                else:
                    svc.access.set_member(ws, email, role)
            except RagError as err:
                st.error(md(err))
            else:
                st.rerun()


def render() -> None:
    st.title("Audit")
    svc = state.services()
    who = svc.principal()
    mine = svc.list_workspaces()
    owned = {w["collection"]: w["name"] for w in mine if w["role"] == "owner"}
    if not who.is_admin and not owned:
        st.info("The audit trail is for workspace owners and admins.")
        _members(svc)
        return
    st.caption("Everything is recorded: sign-ins, uploads, deletions, questions, membership "
               "changes. Records cannot be changed or removed from the app.")
    c1, c2, c3, c4 = st.columns(4)
    ws_pick = c1.selectbox("Workspace", ["(all)", *owned.values()], key="audit_ws")
    action = c2.selectbox("Action", ACTIONS, format_func=lambda a: a or "(any)",
                          key="audit_action")
    user = c3.text_input("User", placeholder="email", key="audit_user").strip() or None
    since = c4.date_input("Since", value=None, key="audit_since")
    workspaces = None
    if ws_pick != "(all)":
        workspaces = [c for c, n in owned.items() if n == ws_pick]
    try:
        events = svc.access.audit_events(who, workspaces=workspaces, user=user,
                                         action=action or None, since=_day_start(since),
                                         limit=LIMIT)
    except AccessDenied as err:
        show_error(err)
        return
    frame = events_frame(events, {w["collection"]: w["name"] for w in mine})
    st.dataframe(frame, hide_index=True, width="stretch")
    st.caption(f"{len(events)} record(s)" + (f" (the newest {LIMIT})" if len(events) >= LIMIT
                                               else ""))
    if events:
        from rag.storage.side import audit_csv

        stamp = (datetime.now(UTC) + timedelta()).strftime("%Y%m%d-%H%M")
        st.download_button("Download CSV", audit_csv(events), file_name=f"audit-{stamp}.csv",
                           mime="text/csv", icon=":material/download:", on_click=auth.exported,
                           args=("audit", f"audit-{stamp}.csv", None), key="audit_download")
    st.divider()
    _members(svc)
