"""A workspace's figure cells on the storage port: the `rag.figures.store.FigureStore` port on
the shared relational database, used when RAG_DATABASE_URL names one (so every replica reads
the cells of a document ingested through any of them). The embedded default stays DuckDB.

Writes replace a document's cells whole in one transaction, so re-ingest is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields

from sqlalchemy import Engine, delete, func, insert, select

from rag.storage.tables import cells as table
from rag.types import Cell

_COLUMNS = [f.name for f in fields(Cell)]
_BATCH = 2000


class SqlFigureStore:
    """The cells of one workspace (its collection name) in the side-state database."""

    def __init__(self, engine: Engine, collection: str) -> None:
        self.engine = engine
        self.collection = collection

    def _mine(self):
        return table.c.workspace == self.collection

    def put(self, doc_id: str, cells: Sequence[Cell]) -> None:
        rows = [{"workspace": self.collection, **{f: getattr(c, f) for f in _COLUMNS}}
                for c in cells]
        with self.engine.begin() as con:
            con.execute(delete(table).where(self._mine(), table.c.doc_id == doc_id))
            for i in range(0, len(rows), _BATCH):
                con.execute(insert(table), rows[i : i + _BATCH])

    def delete(self, doc_id: str) -> None:
        with self.engine.begin() as con:
            con.execute(delete(table).where(self._mine(), table.c.doc_id == doc_id))

    def has(self, doc_id: str) -> bool:
        with self.engine.connect() as con:
            return con.execute(select(table.c.doc_id).where(
                self._mine(), table.c.doc_id == doc_id).limit(1)).first() is not None

    def doc_ids(self) -> list[str]:
        with self.engine.connect() as con:
            return list(con.execute(select(table.c.doc_id).where(self._mine())
                                    .distinct()).scalars())

    def cells(self, doc_ids: Iterable[str] | None = None, item: str | None = None,
              period: str | None = None, statement: str | None = None,
              limit: int | None = None) -> list[Cell]:
        q = select(*(table.c[c] for c in _COLUMNS)).where(self._mine())
        if doc_ids is not None:
            ids = list(doc_ids)
            if not ids:
                return []
            q = q.where(table.c.doc_id.in_(ids))
        if item:
            q = q.where(func.lower(table.c.row_label).like(f"%{item.lower()}%"))
        if period:
            q = q.where(table.c.period == period)
        if statement:
            q = q.where(table.c.statement == statement)
        q = q.order_by(table.c.doc_id, table.c.ordinal)
        if limit:
            q = q.limit(int(limit))
        with self.engine.connect() as con:
            rows = con.execute(q).all()
        return [Cell(**dict(zip(_COLUMNS, r, strict=True))) for r in rows]
