"""The relational side state's tables (SQLAlchemy Core): workspace memberships and the audit
trail. The schema itself is made by the Alembic migrations in `alembic/versions`; this module
is what the code reads and writes through, and must match the latest migration."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

ROLES = ("viewer", "editor", "owner")

memberships = Table(
    "memberships", metadata,
    Column("workspace", String(200), primary_key=True),  # the workspace's collection name
    Column("email", String(320), primary_key=True),  # lower-cased
    Column("role", String(16), nullable=False),  # viewer | editor | owner
    Column("added_at", Float, nullable=False),
    Column("added_by", String(320), nullable=False, server_default=""),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),  # Unix time, seconds
    Column("user", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("workspace", String(200), nullable=True),  # collection name; None: not about one
    Column("target", String(500), nullable=False, server_default=""),
    Column("detail", JSON, nullable=False),
)

Index("ix_memberships_email", memberships.c.email)
Index("ix_audit_at", audit.c.at)
Index("ix_audit_workspace_at", audit.c.workspace, audit.c.at)
