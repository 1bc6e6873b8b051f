"""The relational side store's engine: SQLite in the data directory by default, PostgreSQL (or
any SQLAlchemy URL) when `RAG_DATABASE_URL` names one. Migrated in place by Alembic the first
time a process opens it, so an existing data directory upgrades itself.

The URL can hold a password: it is never printed, logged or put in an error message (errors
name the database by `describe_url`, which hides it).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from rag.errors import RagError

SQLITE_NAME = "ragdesk.sqlite3"
HEAD_REVISION = "0004"
"""The newest migration in `alembic/versions` (a test keeps the two equal): a database already
there is opened without importing Alembic at all."""
HERE = Path(__file__).resolve().parent

_ENGINES: dict[str, Engine] = {}
_DIR_URLS: dict[str, str] = {}
"""The database each data directory's settings named (so a store given only a data directory,
as the dashboard and the CLI build them, finds the same database as the services)."""
_LOCK = threading.Lock()


class DatabaseError(RagError):
    """The side-state database cannot be opened or migrated."""


def database_url(settings) -> str:
    """`RAG_DATABASE_URL`, else the SQLite file in the data directory."""
    url = (getattr(settings, "database_url", None) or "").strip()
    if url:
        if url.startswith(("postgres://", "postgresql://")):
            # psycopg 3 is the driver this project ships; SQLAlchemy's default is psycopg2.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{Path(settings.data_dir) / SQLITE_NAME}"


def describe_url(url: str) -> str:
    """The URL fit for a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot even parse
        return "(unparseable database URL)"


def _sqlite_pragmas(dbapi_con, _record) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30.0})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest migration (a no-op when it is there already)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "alembic"))
    with engine.begin() as con:
        # Two processes migrating at once: the second waits for the first, then finds the
        # schema at head.
        if con.dialect.name == "sqlite":
            con.exec_driver_sql("BEGIN IMMEDIATE")
        elif con.dialect.name == "postgresql":
            con.exec_driver_sql("SELECT pg_advisory_xact_lock(7246146)")
        cfg.attributes["connection"] = con
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision; None for a database never migrated."""
    from sqlalchemy import inspect, text

    with engine.connect() as con:
        if not inspect(con).has_table("alembic_version"):
            return None
        return con.execute(text("SELECT version_num FROM alembic_version")).scalar()


def engine_for(settings) -> Engine:
    """The process's engine for these settings, migrated once per process."""
    return _engine(database_url(settings), Path(settings.data_dir))


def engine_for_dir(data_dir: Path | str) -> Engine:
    """The side-state engine serving a data directory: the database its settings named in this
    process (RAG_DATABASE_URL, or the process's own settings when they are for this directory),
    else the SQLite file in it."""
    key = str(Path(data_dir).resolve())
    url = _DIR_URLS.get(key)
    if url is None:
        from rag.config import get_settings

        own = get_settings()
        if str(Path(own.data_dir).resolve()) == key:
            url = database_url(own)
        else:
            url = f"sqlite:///{Path(data_dir) / SQLITE_NAME}"
    return _engine(url, Path(data_dir))


def _engine(url: str, data_dir: Path) -> Engine:
    _DIR_URLS[str(data_dir.resolve())] = url
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            try:
                engine = _make_engine(url)
                if current_revision(engine) != HEAD_REVISION:
                    migrate(engine)
            except RagError:
                raise
            except Exception as exc:  # noqa: BLE001 - driver errors of every kind
                raise DatabaseError(
                    f"cannot open the side-state database {describe_url(url)}: "
                    f"{type(exc).__name__}; check RAG_DATABASE_URL (or the data directory)"
                ) from None
            _ENGINES[url] = engine
    return engine


class DataDirStore:
    """The base of a store holding every workspace's rows of one kind (briefs, analyses): the
    engine it was given, else the one serving `data_dir` (`engine_for_dir`), found when first
    used."""

    def __init__(self, data_dir: Path | str, engine: Engine | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._given = engine
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._given or engine_for_dir(self.data_dir)
        return self._engine


def dispose_all() -> None:
    """Close every engine (tests, and processes that change their settings)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
        _DIR_URLS.clear()
