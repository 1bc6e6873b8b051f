"""The relational side state's tables (SQLAlchemy Core): workspace memberships, the audit
trail, and each workspace's question log, evaluation runs, briefs, feedback analyses and
figure cells, the Ask page's conversations and its own settings. The schema itself is made by the Alembic migrations in `alembic/versions`; this module
is what the code reads and writes through, and must match the latest migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

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

# -- per-workspace side state (revision 0002): every table is keyed by the workspace's collection
# name first, so one database serves every workspace and a workspace's rows go with it.

questions = Table(
    "questions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(200), nullable=False),
    Column("asked_at", Float, nullable=False),
    Column("question", Text, nullable=False),
    Column("rewritten", Text, nullable=False, server_default=""),
    Column("model", String(300), nullable=False, server_default=""),
    Column("seconds", Float, nullable=True),
    Column("first_token_s", Float, nullable=True),
    Column("abstained", Integer, nullable=False),
    Column("citation_check", String(32), nullable=False),
    Column("citations", Integer, nullable=False, server_default="0"),
    Column("flags", Text, nullable=False, server_default="[]"),  # JSON list
    Column("passages", Text, nullable=False, server_default="[]"),  # JSON list
    Column("answer", Text, nullable=False, server_default=""),
    Column("source", String(32), nullable=False, server_default="app"),
    Column("reask_of", Integer, nullable=True),
    Column("resolved_at", Float, nullable=True),
    Column("resolved_by", Integer, nullable=True),
    Column("resolution", Text, nullable=False, server_default=""),
)

question_vectors = Table(
    "question_vectors", metadata,
    Column("workspace", String(200), primary_key=True),
    Column("key", String(64), primary_key=True),  # sha1 of the normalised question
    Column("model", String(300), primary_key=True),
    Column("vec", LargeBinary, nullable=False),  # float32, unit length
)

ingest_failures = Table(
    "ingest_failures", metadata,
    Column("workspace", String(200), primary_key=True),
    Column("filename", String(1000), primary_key=True),
    Column("message", Text, nullable=False),
    Column("failed_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
)

question_cache = Table(
    "question_cache", metadata,
    Column("workspace", String(200), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("payload", Text, nullable=False),  # JSON
    Column("updated_at", Float, nullable=False),
)

eval_runs = Table(
    "eval_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("set_name", String(500), nullable=False, server_default=""),
    Column("k", Integer, nullable=False),
    Column("questions", Integer, nullable=False),
    Column("recall", Float, nullable=False),
    Column("mrr", Float, nullable=False),
    Column("embed_model", String(300), nullable=False, server_default=""),
    Column("settings", Text, nullable=False, server_default="{}"),  # JSON
    Column("seconds", Float, nullable=False, server_default="0"),
    Column("result", Text, nullable=False, server_default="{}"),  # JSON, the whole run
)

briefs = Table(
    "briefs", metadata,
    Column("workspace", String(200), primary_key=True),
    Column("doc_key", String(420), primary_key=True),  # doc id, or "A-vs-B" for a comparison
    Column("kind", String(32), primary_key=True),
    Column("model_slug", String(16), primary_key=True),
    Column("doc_a", String(200), nullable=False),
    Column("doc_b", String(200), nullable=True),  # the second document of a comparison
    Column("fingerprint", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: Brief.to_dict()
)

analyses = Table(
    "analyses", metadata,
    Column("workspace", String(200), primary_key=True),
    Column("doc_id", String(200), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("saved_at", Float, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: feedback.store.to_json
)

cells = Table(
    "cells", metadata,
    Column("workspace", String(200), nullable=False),
    Column("doc_id", String(200), nullable=False),
    Column("doc_name", Text, nullable=False),
    Column("row_label", Text, nullable=False),
    Column("period", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("span", Text, nullable=False),
    Column("unit", String(100), nullable=False, server_default=""),
    Column("page", Integer, nullable=True),
    Column("row", Integer, nullable=True),
    Column("table", Text, nullable=False, server_default=""),
    Column("statement", String(64), nullable=False, server_default="other"),
    Column("section", Text, nullable=False, server_default=""),
    Column("column", Text, nullable=False, server_default=""),
    Column("period_kind", String(32), nullable=False, server_default=""),
    Column("year", Integer, nullable=True),
    Column("quarter", Integer, nullable=True),
    Column("source", String(32), nullable=False, server_default="table"),
    Column("ordinal", Integer, nullable=False, server_default="0"),
    Column("turn", Integer, nullable=True),
)

conversations = Table(
    "conversations", metadata,  # revision 0003: the Ask page's chats, shared by every replica
    Column("workspace", String(200), primary_key=True),
    Column("user", String(320), primary_key=True),  # lower-cased email ("local" single-user)
    Column("turns", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: rag.ui.conversations.encode
)

workspace_settings = Table(
    "workspace_settings", metadata,  # revision 0004: a workspace's own settings (its lexicon)
    Column("workspace", String(200), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

legacy_imports = Table(
    "legacy_imports", metadata,
    Column("source", String(1200), primary_key=True),  # host:path of a file imported once
    Column("imported_at", Float, nullable=False),
)

Index("ix_questions_workspace_asked", questions.c.workspace, questions.c.asked_at)
Index("ix_eval_runs_workspace_created", eval_runs.c.workspace, eval_runs.c.created_at)
Index("ix_cells_workspace_doc", cells.c.workspace, cells.c.doc_id)

WORKSPACE_TABLES = (questions, question_vectors, ingest_failures, question_cache, eval_runs,
                    briefs, analyses, cells, conversations, workspace_settings)
"""Every table whose rows belong to one workspace (dropped with it)."""
