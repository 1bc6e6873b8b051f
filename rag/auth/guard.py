"""`Access`: the checks `Services` makes, the membership commands and the audit hooks.

Every workspace handle `Services.workspace` returns has been checked for its user and carries
`ws.principal` and `ws.role`; a viewer's handle refuses writes itself (begin, add_chunks,
commit, delete_document), so a page or command that forgets a check still cannot write.

Single-user mode (no identity provider): the one local user is an admin; nothing is asked
and reading never touches the database (it is opened on the first write or audit record).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag.auth import oidc
from rag.auth.errors import AccessDenied, NotAMember, RoleTooLow, SignInRequired
from rag.auth.principal import ROLES, Principal, at_least, local_principal, principal_for
from rag.errors import NotFound, RagError

if TYPE_CHECKING:
    from rag.storage.side import AuditTrail, Memberships

log = logging.getLogger(__name__)

# A process-wide way to learn who is asking when the caller did not say (the app installs
# one reading the Streamlit session's signed-in user).
_resolver: Callable[[], Principal | None] | None = None


def set_resolver(fn: Callable[[], Principal | None] | None) -> None:
    global _resolver
    _resolver = fn


class Access:
    def __init__(self, settings, mode: str | None = None) -> None:
        self.settings = settings
        self.mode = mode or oidc.auth_mode(settings)
        self._lock = threading.Lock()
        self._members: Memberships | None = None
        self._trail: AuditTrail | None = None

    # -- the side store, opened on first use ---------------------------------------------------

    def _opened(self) -> tuple[Memberships, AuditTrail]:
        """The memberships and the audit trail, both opened on the first call."""
        with self._lock:
            if self._members is None or self._trail is None:
                from rag.storage.db import engine_for
                from rag.storage.side import AuditTrail, Memberships

                engine = engine_for(self.settings)
                self._members = Memberships(engine)
                self._trail = AuditTrail(engine, secrets=oidc.known_secrets(self.settings))
            return self._members, self._trail

    @property
    def memberships(self) -> Memberships:
        return self._opened()[0]

    @property
    def trail(self) -> AuditTrail:
        return self._opened()[1]

    # -- who -----------------------------------------------------------------------------------

    def resolve(self, user: Principal | str | None) -> Principal:
        """The principal a call acts for: the one given, else the app's signed-in user, else
        (single-user mode only) the local admin."""
        if isinstance(user, str):
            user = principal_for(user, self.settings)
        if user is None and _resolver is not None:
            user = _resolver()
        if user is None:
            if self.mode == oidc.SINGLE:
                return local_principal()
            raise SignInRequired("sign in first: this RAGdesk requires it")
        if not user.email:
            raise SignInRequired("your account has no email address: RAGdesk needs one")
        return user

    def role(self, who: Principal, collection: str) -> str | None:
        """The user's effective role (admins own everything)."""
        if who.is_admin:
            return "owner"
        return self.memberships.role(collection, who.email)

    # -- the server's own settings ------------------------------------------------------------

    @staticmethod
    def may_change_endpoints(who: Principal) -> bool:
        """Whether `who` may point the chat model at another server (base URLs): the app
        server sends requests there, so only admins (the local user in single-user mode)."""
        return bool(who.is_admin)

    # -- workspaces ----------------------------------------------------------------------------

    def open(self, who: Principal, name: str, opener: Callable[[bool], Any], create: bool,
             need: str = "viewer", collection: str | None = None):
        """Open workspace `name` for `who` (`opener(create)` opens it in the store): a
        non-member gets NotAMember (NotFound when it does not exist and is not created), a
        role below `need` RoleTooLow. Creating a workspace makes its creator its owner.
        `collection`: the workspace's id as the store resolves the name (Store.collection_for);
        without it, the id a new workspace of that name gets."""
        from rag.index.store import collection_name_for

        coll = collection or collection_name_for(name)
        role = self.role(who, coll)
        created = False
        if role is None:
            try:
                ws = opener(False)
            except NotFound:
                if not create:
                    raise
                ws, created = opener(True), True
            else:
                raise NotAMember(ws.name)
        else:
            self._require(role, need, name, _what(need))
            try:
                ws = opener(False)
            except NotFound:
                if not create:
                    raise
                ws, created = opener(True), True
        if created:
            self.memberships.set(ws.collection_name, who.email, "owner", by=who.email)
            self.record(who, "workspace.create", ws.collection_name, target=ws.name,
                        detail={"workspace_name": ws.name})
            role = "owner"
        assert role is not None  # a non-member was refused above unless it created the workspace
        self._attach(ws, who, role)
        return ws

    def _attach(self, ws, who: Principal, role: str) -> None:
        ws.principal, ws.role = who, role
        inner_delete = ws.delete_document

        def delete_document(doc_id: str) -> None:
            self.require(ws, "editor", "deleting documents")
            try:
                doc_name = ws.get_document(doc_id).name
            except RagError:
                doc_name = ""
            inner_delete(doc_id)
            self.record(who, "document.delete", ws.collection_name, target=doc_id,
                        detail={"name": doc_name, "workspace_name": ws.name})

        ws.delete_document = delete_document
        inner_meta = ws.update_meta

        def update_meta(doc_id: str, changes: dict):
            # facts read from the content are derived data any member's reading may store;
            # a person's correction of them is an edit
            if "facts_user" in changes:
                self.require(ws, "editor", "correcting what a document is")
            out = inner_meta(doc_id, changes)
            if "facts_user" in changes:
                self.record(who, "document.facts", ws.collection_name, target=doc_id,
                            detail={"corrected": changes["facts_user"],
                                    "workspace_name": ws.name})
            return out

        ws.update_meta = update_meta
        if not at_least(role, "editor"):
            for method in ("begin", "add_chunks", "commit", "heartbeat"):
                setattr(ws, method, self._refuser(ws, "adding documents"))

    def _refuser(self, ws, what: str):
        def refuse(*_a, **_k):
            raise RoleTooLow(ws.name, ws.role, "editor", what)
        return refuse

    @staticmethod
    def _require(role: str, need: str, name: str, what: str) -> None:
        if not at_least(role, need):
            raise RoleTooLow(name, role, need, what)

    def require(self, ws, need: str, what: str | None = None) -> None:
        """`ws` (a handle from `open`) must have been opened with at least role `need`."""
        role = getattr(ws, "role", None)
        if role is None:
            raise AccessDenied(f"workspace '{ws.name}' was not opened through the services")
        self._require(role, need, ws.name, what or _what(need))

    def visible(self, who: Principal, items: list[dict]) -> list[dict]:
        """The store's workspace list cut to the user's, each with their `role`."""
        if who.is_admin:
            return [{**w, "role": "owner"} for w in items]
        mine = self.memberships.workspaces_of(who.email)
        return [{**w, "role": mine[w["collection"]]} for w in items if w["collection"] in mine]

    def delete_workspace(self, who: Principal, name: str, store) -> None:
        coll = store.collection_for(name)
        role = self.role(who, coll)
        if role is None:
            store.workspace(name)  # NotFound when there is none
            raise NotAMember(name)
        self._require(role, "owner", name, "deleting the workspace")
        store.delete_workspace(name)
        self.memberships.drop_workspace(coll)
        self.record(who, "workspace.delete", coll, target=name, detail={"workspace_name": name})

    # -- members -------------------------------------------------------------------------------

    def members(self, ws) -> list[dict]:
        self.require(ws, "viewer")
        return [{"email": m.email, "role": m.role, "added_at": m.added_at,
                 "added_by": m.added_by} for m in self.memberships.members(ws.collection_name)]

    def set_member(self, ws, email: str, role: str) -> str | None:
        """Add `email` with `role`, or change their role (owners only). Returns the old role."""
        self.require(ws, "owner", "managing members")
        email = (email or "").strip().lower()
        if "@" not in email or len(email) > 320:
            raise RagError(f"'{email}' is not an email address")
        if role not in ROLES:
            raise RagError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
        current = self.memberships.role(ws.collection_name, email)
        if current == "owner" and role != "owner":
            self._keep_an_owner(ws, email)
        before = self.memberships.set(ws.collection_name, email, role, by=ws.principal.email)
        action = "member.add" if before is None else "member.role"
        self.record(ws.principal, action, ws.collection_name, target=email,
                    detail={"role": role, "before": before, "workspace_name": ws.name})
        return before

    def remove_member(self, ws, email: str) -> None:
        self.require(ws, "owner", "managing members")
        email = (email or "").strip().lower()
        role = self.memberships.role(ws.collection_name, email)
        if role is None:
            raise NotFound(f"{email} is not a member of workspace '{ws.name}'")
        if role == "owner":
            self._keep_an_owner(ws, email)
        self.memberships.remove(ws.collection_name, email)
        self.record(ws.principal, "member.remove", ws.collection_name, target=email,
                    detail={"role": role, "workspace_name": ws.name})

    def _keep_an_owner(self, ws, email: str) -> None:
        owners = [m.email for m in self.memberships.members(ws.collection_name)
                  if m.role == "owner"]
        if owners == [email]:
            raise RagError(f"{email} is the only owner of workspace '{ws.name}': make someone "
                           "else owner first")

    # -- audit ---------------------------------------------------------------------------------

    def record(self, who: Principal, action: str, workspace: str | None = None,
               target: str = "", detail: dict | None = None) -> None:
        """Append an audit record. A record that cannot be written is logged (without its
        content) and never stops the action, which has already happened."""
        try:
            self.trail.record(who.email, action, workspace, target, detail)
        except Exception as exc:  # noqa: BLE001
            log.warning("audit record %s not written: %s", action, type(exc).__name__)

    def note_ingest(self, ws, report) -> None:
        who = getattr(ws, "principal", None)
        if who is None:
            return
        detail: dict[str, Any] = {"status": report.status, "workspace_name": ws.name}
        if report.doc is not None:
            detail.update(doc_id=report.doc.doc_id, chunks=report.doc.chunks)
        if not report.ok:
            detail["message"] = report.message[:300]
        self.record(who, "document.ingest", ws.collection_name, target=report.filename,
                    detail=detail)

    def note_question(self, ws, answer, source: str) -> None:
        who = getattr(ws, "principal", None)
        if who is None or answer is None:
            return
        self.record(who, "question.ask", ws.collection_name,
                    target=(getattr(answer, "question", "") or "")[:300],
                    detail={"source": source, "citations": len(getattr(answer, "citations", ())),
                            "workspace_name": ws.name})

    def audit_events(self, who: Principal, **filters) -> list:
        """The audit records `who` may read: all for admins, their owned workspaces' for
        owners; nobody else reads the trail."""
        if who.is_admin:
            return self.trail.query(**filters)
        owned = [w for w, r in self.memberships.workspaces_of(who.email).items() if r == "owner"]
        wanted = filters.pop("workspaces", None)
        if wanted is not None:
            owned = [w for w in owned if w in set(wanted)]
        if not owned:
            raise AccessDenied("the audit trail is for workspace owners and admins"
                               + (" (you own none of these workspaces)" if wanted else ""))
        return self.trail.query(workspaces=owned, include_global=False, **filters)


def _what(need: str) -> str:
    return {"viewer": "reading", "editor": "changing documents", "owner": "managing it"}[need]
