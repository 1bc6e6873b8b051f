"""Alembic environment: the database is the app's (`rag.storage.db.database_url`).

`rag.storage.db.migrate` runs this programmatically at startup with its own connection in
`config.attributes["connection"]`; run by hand (`alembic -c rag/storage/alembic.ini upgrade
head`) it reads the URL from the app's settings (RAG_DATABASE_URL, else the data directory's
SQLite file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from rag.storage.tables import metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from rag.config import get_settings
    from rag.storage.db import database_url

    engine = create_engine(database_url(get_settings()))
    try:
        with engine.connect() as con:
            _run(con)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run them online")
run_online()
