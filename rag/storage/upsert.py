"""Insert-or-update in one statement on the port's databases (SQLite and PostgreSQL share the
`ON CONFLICT` form), so two replicas writing the same key never fail on each other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert


def upsert(con: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
           update: Mapping[str, Any] | Sequence[str] | None = None) -> None:
    """Insert `rows`; a row whose primary key exists is updated instead: the columns named in
    `update` (a list: set from the new row; a mapping: column -> expression, where
    `excluded(table)` names the new row), every non-key column by default."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    name = con.dialect.name
    if name in ("sqlite", "postgresql"):
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import (  # type: ignore[assignment]  # the
                insert as dialect_insert,  # two dialects' Insert share what is used here
            )
        stmt = dialect_insert(table)
        if update is None:
            update = [c.name for c in table.columns if c.name not in keys]
        if isinstance(update, Mapping):
            sets = {k: (v(stmt.excluded) if callable(v) else v) for k, v in update.items()}
        else:
            sets = {c: stmt.excluded[c] for c in update}
        con.execute(stmt.on_conflict_do_update(index_elements=keys, set_=sets), list(rows))
        return
    for row in rows:  # another database: replace the row (last writer wins)
        con.execute(delete(table).where(and_(*(table.c[k] == row[k] for k in keys))))
        con.execute(insert(table).values(**row))
