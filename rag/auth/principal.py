"""The user a request acts for, and the workspace roles."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

ROLES = ("viewer", "editor", "owner")
RANK = {r: i for i, r in enumerate(ROLES)}
WHAT = {
    "viewer": "search, ask and read summaries, themes and figures",
    "editor": "also upload and delete documents and run analyses",
    "owner": "also manage members and delete the workspace",
}


@dataclass(frozen=True)
class Principal:
    """Who is asking. `local`: the machine's owner in single-user mode (no sign-in)."""

    email: str
    is_admin: bool = False
    name: str = ""
    local: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", self.email.strip().lower())


def at_least(role: str | None, need: str) -> bool:
    return role is not None and RANK.get(role, -1) >= RANK[need]


def admin_emails(settings) -> frozenset[str]:
    """RAG_ADMINS: comma- (or space-) separated emails."""
    raw = getattr(settings, "admins", "") or ""
    return frozenset(e.strip().lower() for e in raw.replace(" ", ",").split(",") if e.strip())


def principal_for(email: str, settings, name: str = "") -> Principal:
    email = (email or "").strip().lower()
    return Principal(email, is_admin=email in admin_emails(settings), name=name)


def local_principal() -> Principal:
    """The single user of an installation with no sign-in: the machine's owner, an admin."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some containers)
        user = "owner"
    return Principal(f"{user}@localhost", is_admin=True, name=user, local=True)
