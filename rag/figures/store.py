"""Where a workspace's cells live: a port, and its DuckDB implementation (one file a workspace).

Cells are written under their document id before the document is committed and read only for
ready documents (the caller passes the ready ids), so a document's figures appear exactly when
its chunks do. Writes replace a document's cells whole, so re-ingest is idempotent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Protocol

from rag.errors import RagError
from rag.types import Cell

_COLUMNS = [f.name for f in fields(Cell)]
_SELECT = ", ".join(f'"{c}"' for c in _COLUMNS)
_TYPES = {"page": "INTEGER", "row": "INTEGER", "year": "INTEGER", "quarter": "INTEGER",
          "ordinal": "INTEGER"}


def _insert(con, rows: list[tuple]) -> None:
    """Insert rows in one columnar statement: DuckDB's `executemany` runs one statement a row
    (2.1 s for the 2,000 cells of a 100-page filing; this takes a few milliseconds)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with streamlit
        marks = ", ".join("?" for _ in _COLUMNS)
        con.executemany(f"INSERT INTO cells ({_SELECT}) VALUES ({marks})", rows)
        return
    cols = {}
    for j, c in enumerate(_COLUMNS):
        vals = [r[j] for r in rows]
        if c in _TYPES:
            cols[c] = pa.array(vals, type=pa.int64())
        else:  # VARCHAR, as executemany stored every other value
            cols[c] = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
    con.register("_new_cells", pa.table(cols))
    try:
        con.execute(f"INSERT INTO cells ({_SELECT}) SELECT {_SELECT} FROM _new_cells")
    finally:
        con.unregister("_new_cells")


class FigureStore(Protocol):
    """The cells of one workspace."""

    def put(self, doc_id: str, cells: Sequence[Cell]) -> None: ...

    def delete(self, doc_id: str) -> None: ...

    def cells(self, doc_ids: Iterable[str] | None = None, item: str | None = None,
              period: str | None = None, statement: str | None = None,
              limit: int | None = None) -> list[Cell]: ...

    def doc_ids(self) -> list[str]: ...

    def has(self, doc_id: str) -> bool: ...


class DuckFigureStore:
    """Cells in a DuckDB file. Each call opens and closes its own connection, so the app and the
    CLI (two processes) can both use one workspace; a call that meets the other's write lock
    retries for a few seconds."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._mem = None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._run(self._create)

    # -- plumbing --------------------------------------------------------------------------

    def _connect(self):
        import duckdb

        if self.path is None:
            if self._mem is None:
                self._mem = duckdb.connect(":memory:")
            return self._mem
        return duckdb.connect(str(self.path))

    def _run(self, fn, *args):
        import duckdb

        deadline = time.monotonic() + 15
        while True:
            with self._lock:
                try:
                    con = self._connect()
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise RagError(f"the figures database {self.path} is busy or "
                                       f"unreadable: {exc}") from exc
                    con = None
                if con is not None:
                    try:
                        return fn(con, *args)
                    finally:
                        if self.path is not None:
                            con.close()
            time.sleep(0.1)

    @staticmethod
    def _create(con) -> None:
        cols = ", ".join(f'"{c}" {_TYPES.get(c, "VARCHAR")}' for c in _COLUMNS)
        con.execute(f"CREATE TABLE IF NOT EXISTS cells ({cols})")
        # A file written by an older release lacks the newer fields: add them (empty).
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'cells'"
        ).fetchall()}
        for c in _COLUMNS:
            if c not in have:
                con.execute(f'ALTER TABLE cells ADD COLUMN "{c}" {_TYPES.get(c, "VARCHAR")}')

    # -- the port --------------------------------------------------------------------------

    def put(self, doc_id: str, cells: Sequence[Cell]) -> None:
        rows = [tuple(getattr(c, f) for f in _COLUMNS) for c in cells]

        def write(con) -> None:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM cells WHERE doc_id = ?", [doc_id])
                if rows:
                    _insert(con, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

        self._run(write)

    def delete(self, doc_id: str) -> None:
        self._run(lambda con: con.execute("DELETE FROM cells WHERE doc_id = ?", [doc_id]))

    def has(self, doc_id: str) -> bool:
        return bool(self._run(lambda con: con.execute(
            "SELECT 1 FROM cells WHERE doc_id = ? LIMIT 1", [doc_id]).fetchall()))

    def doc_ids(self) -> list[str]:
        return [r[0] for r in self._run(
            lambda con: con.execute("SELECT DISTINCT doc_id FROM cells").fetchall())]

    def cells(self, doc_ids: Iterable[str] | None = None, item: str | None = None,
              period: str | None = None, statement: str | None = None,
              limit: int | None = None) -> list[Cell]:
        where, args = [], []
        if doc_ids is not None:
            ids = list(doc_ids)
            if not ids:
                return []
            where.append(f"doc_id IN ({', '.join('?' for _ in ids)})")
            args.extend(ids)
        if item:
            where.append("lower(row_label) LIKE ?")
            args.append(f"%{item.lower()}%")
        if period:
            where.append("period = ?")
            args.append(period)
        if statement:
            where.append("statement = ?")
            args.append(statement)
        sql = f"SELECT {_SELECT} FROM cells"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += ' ORDER BY doc_id, "ordinal"'
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._run(lambda con: con.execute(sql, args).fetchall())
        return [Cell(**dict(zip(_COLUMNS, r, strict=True))) for r in rows]


def figures_path(data_dir: Path, collection: str) -> Path:
    return Path(data_dir) / "figures" / f"{collection}.duckdb"
