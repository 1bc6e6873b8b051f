"""The storage port for side state (everything but the vectors): workspace memberships, the
Ask page's conversations and the audit trail, on the relational database of `rag.storage.db`
(SQLite in the data directory by default, PostgreSQL with RAG_DATABASE_URL). Several app
replicas and the CLI share it.

The audit trail is append-only from the app: `AuditTrail` has `record` and `query`, and no
way to change or remove a record.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from rag.storage.tables import ROLES, audit, conversations, memberships, workspace_settings
from rag.storage.upsert import upsert


@dataclass(frozen=True)
class Member:
    workspace: str  # collection name
    email: str
    role: str
    added_at: float
    added_by: str = ""


class Memberships:
    """Who belongs to which workspace (by collection name), with which role."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _check_role(role: str) -> str:
        role = (role or "").strip().lower()
        if role not in ROLES:
            from rag.errors import RagError

            raise RagError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
        return role

    def role(self, workspace: str, email: str) -> str | None:
        with self.engine.connect() as con:
            return con.execute(select(memberships.c.role).where(
                memberships.c.workspace == workspace,
                memberships.c.email == email.lower())).scalar()

    def members(self, workspace: str) -> list[Member]:
        with self.engine.connect() as con:
            rows = con.execute(select(memberships).where(memberships.c.workspace == workspace)
                               .order_by(memberships.c.email)).mappings().all()
        return [Member(**r) for r in rows]

    def workspaces_of(self, email: str) -> dict[str, str]:
        """{collection name: role} of one user."""
        with self.engine.connect() as con:
            rows = con.execute(select(memberships.c.workspace, memberships.c.role)
                               .where(memberships.c.email == email.lower())).all()
        return {w: r for w, r in rows}

    def set(self, workspace: str, email: str, role: str, by: str = "") -> str | None:
        """Add a member or change their role; returns the role they had before (or None)."""
        role = self._check_role(role)
        email = email.strip().lower()
        with self.engine.begin() as con:
            before = con.execute(select(memberships.c.role).where(
                memberships.c.workspace == workspace, memberships.c.email == email)).scalar()
            if before is None:
                con.execute(insert(memberships).values(workspace=workspace, email=email,
                                                       role=role, added_at=time.time(),
                                                       added_by=by))
            elif before != role:
                con.execute(update(memberships).where(
                    memberships.c.workspace == workspace, memberships.c.email == email)
                    .values(role=role))
        return before

    def remove(self, workspace: str, email: str) -> bool:
        with self.engine.begin() as con:
            res = con.execute(delete(memberships).where(
                memberships.c.workspace == workspace,
                memberships.c.email == email.strip().lower()))
        return bool(res.rowcount)

    def drop_workspace(self, workspace: str) -> None:
        """Forget every member of a deleted workspace."""
        with self.engine.begin() as con:
            con.execute(delete(memberships).where(memberships.c.workspace == workspace))


def forget_workspace(engine: Engine, workspace: str) -> None:
    """Remove a deleted workspace's side state (question log, runs, briefs, analyses, cells);
    its audit records stay (append-only)."""
    from rag.storage.tables import WORKSPACE_TABLES

    with engine.begin() as con:
        for table in WORKSPACE_TABLES:
            con.execute(delete(table).where(table.c.workspace == workspace))


# -- a workspace's own settings --------------------------------------------------------------------


class WorkspaceSettings:
    """Settings one workspace keeps for itself (by collection name), shared by every replica:
    today its `lexicon`. A key never set reads as None (the process's default applies)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, workspace: str, key: str) -> str | None:
        ws = workspace_settings.c
        with self.engine.connect() as con:
            return con.execute(select(ws.value).where(ws.workspace == workspace,
                                                      ws.key == key)).scalar()

    def set(self, workspace: str, key: str, value: str) -> None:
        with self.engine.begin() as con:
            upsert(con, workspace_settings, [{"workspace": workspace, "key": key, "value": value,
                                              "updated_at": time.time()}])

    def all(self, workspace: str) -> dict[str, str]:
        ws = workspace_settings.c
        with self.engine.connect() as con:
            rows = con.execute(select(ws.key, ws.value).where(ws.workspace == workspace)).all()
        return {k: v for k, v in rows}


# -- the Ask page's conversations -----------------------------------------------------------------


class Conversations:
    """Each user's conversation in each workspace, as the JSON text the app encodes: one row a
    (workspace, user), written whole, so any replica shows the chat where the user left it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, workspace: str, user: str) -> str | None:
        with self.engine.connect() as con:
            return con.execute(select(conversations.c.payload).where(
                conversations.c.workspace == workspace,
                conversations.c.user == user.strip().lower())).scalar()

    def put(self, workspace: str, user: str, payload: str, turns: int) -> None:
        """Keep `payload` (replacing the last one); an empty conversation removes the row."""
        user = user.strip().lower()
        with self.engine.begin() as con:
            if turns <= 0:
                con.execute(delete(conversations).where(conversations.c.workspace == workspace,
                                                        conversations.c.user == user))
                return
            upsert(con, conversations, [{"workspace": workspace, "user": user, "turns": turns,
                                         "updated_at": time.time(), "payload": payload}])

    def users(self, workspace: str) -> dict[str, int]:
        """{user: number of turns} of a workspace's kept conversations."""
        with self.engine.connect() as con:
            rows = con.execute(select(conversations.c.user, conversations.c.turns)
                               .where(conversations.c.workspace == workspace)).all()
        return {u: t for u, t in rows}


# -- the audit trail -----------------------------------------------------------------------------

_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|passwd|credential|authorization"
                         r"|cookie|database_url|dsn)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@")
REDACTED = "[redacted]"


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with anything secret replaced: values under secret-looking keys, passwords in
    URLs, and every occurrence of the known secret strings."""
    known = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def clean(v: Any, key: str = "") -> Any:
        if key and _SECRET_KEY.search(key):
            return REDACTED if v not in (None, "") else v
        if isinstance(v, dict):
            return {str(k): clean(x, str(k)) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, str):
            for s in known:
                v = v.replace(s, REDACTED)
            return _URL_PASSWORD.sub(r"\1" + REDACTED + "@", v)
        if v is None or isinstance(v, (bool, int, float)):
            return v
        return clean(str(v))

    return clean(value)


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: float
    user: str
    action: str
    workspace: str | None
    target: str
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CSV_COLUMNS = ["id", "time", "user", "action", "workspace", "target", "detail"]


class AuditTrail:
    """Who did what, when, in which workspace. Append-only: no update, no delete."""

    def __init__(self, engine: Engine, secrets: Iterable[str] = ()) -> None:
        self.engine = engine
        self._secrets = tuple(secrets)

    def record(self, user: str, action: str, workspace: str | None = None, target: str = "",
               detail: dict | None = None) -> int:
        detail = redact(detail or {}, self._secrets)
        target = redact(str(target or ""), self._secrets)[:500]
        with self.engine.begin() as con:
            res = con.execute(insert(audit).values(at=time.time(), user=user, action=action,
                                                   workspace=workspace, target=target,
                                                   detail=detail))
        key = res.inserted_primary_key
        assert key is not None  # an INSERT of one row has its key
        return int(key[0])

    def query(self, workspaces: Iterable[str] | None = None, include_global: bool = True,
              user: str | None = None, action: str | None = None,
              since: float | None = None, until: float | None = None,
              limit: int | None = 10_000) -> list[AuditEvent]:
        """Newest first. `workspaces` None: all of them; else only those (plus the events about
        no workspace, such as sign-ins, when `include_global`)."""
        q = select(audit).order_by(audit.c.at.desc(), audit.c.id.desc())
        if workspaces is not None:
            allowed = audit.c.workspace.in_(list(workspaces))
            q = q.where(allowed | audit.c.workspace.is_(None) if include_global else allowed)
        if user:
            q = q.where(audit.c.user == user.lower())
        if action:
            q = q.where(audit.c.action.startswith(action))
        if since is not None:
            q = q.where(audit.c.at >= since)
        if until is not None:
            q = q.where(audit.c.at < until)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as con:
            rows = con.execute(q).mappings().all()
        return [AuditEvent(**{**r, "detail": r["detail"] or {}}) for r in rows]


def audit_csv(events: Iterable[AuditEvent]) -> str:
    """The events as CSV (UTC ISO times, detail as JSON), for download."""
    from datetime import UTC, datetime

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for e in events:
        when = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")
        row = [e.id, when, e.user, e.action, e.workspace or "", e.target,
               json.dumps(e.detail, ensure_ascii=False, sort_keys=True)]
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
        w.writerow([f"'{c}" if isinstance(c, str) and c[:1] in "=+-@" else c for c in row])
    return buf.getvalue()
