"""`ragdesk members` and `ragdesk audit`: the parts of the CLI about who may do what."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from rag.auth.principal import ROLES
from rag.errors import RagError

DEFAULT_WS = "default"


def _when(value: str | None) -> float | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise RagError(f"'{value}' is not a date (YYYY-MM-DD or an ISO time)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def add_parsers(sub, services: Callable, print_json: Callable) -> None:
    def cmd_members(args: argparse.Namespace) -> int:
        svc = services()
        ws = svc.workspace(args.workspace)
        if args.action in ("add", "role"):
            if not args.email or not args.role:
                raise RagError(f"`ragdesk members {args.action}` needs EMAIL and ROLE "
                               f"({'|'.join(ROLES)})")
            before = svc.access.set_member(ws, args.email, args.role)
            if args.action == "add" and before is not None:
                print(f"{args.email} was already a member ({before})", file=sys.stderr)
        elif args.action == "remove":
            if not args.email:
                raise RagError("`ragdesk members remove` needs EMAIL")
            svc.access.remove_member(ws, args.email)
        members = svc.access.members(ws)
        if args.json:
            print_json(members)
        else:
            if not members:
                print(f"workspace '{ws.name}' has no members (admins only)")
            for m in members:
                print(f"{m['role']:7} {m['email']}")
        return 0

    sp = sub.add_parser("members", help="who belongs to a workspace: list, add, remove, role")
    sp.add_argument("action", choices=["list", "add", "remove", "role"])
    sp.add_argument("email", nargs="?")
    sp.add_argument("role", nargs="?", choices=ROLES)
    sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_members)

    def cmd_audit(args: argparse.Namespace) -> int:
        from rag.storage.side import audit_csv

        svc = services()
        who = svc.principal()
        workspaces = None
        if args.workspace:
            workspaces = [svc.workspace(args.workspace).collection_name]
        events = svc.access.audit_events(who, workspaces=workspaces, user=args.by,
                                         action=args.action, since=_when(args.since),
                                         until=_when(args.until), limit=args.limit)
        if args.json:
            print_json([e.to_dict() for e in events])
        elif args.csv:
            sys.stdout.write(audit_csv(events))
        else:
            for e in events:
                when = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")
                print(f"{when}  {e.user:30} {e.action:18} {e.workspace or '-':24} {e.target}")
        return 0

    sp = sub.add_parser("audit", help="the audit trail (owners: their workspaces; admins: all)")
    sp.add_argument("--workspace", "-w", help="only this workspace")
    sp.add_argument("--by", metavar="EMAIL", help="only what this user did")
    sp.add_argument("--action", help="only this action (or prefix: document, member...)")
    sp.add_argument("--since", help="from this date (YYYY-MM-DD, UTC)")
    sp.add_argument("--until", help="before this date")
    sp.add_argument("--limit", type=int, default=1000)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--csv", action="store_true")
    sp.set_defaults(func=cmd_audit)
