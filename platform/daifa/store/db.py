"""Connecting to the database and bringing its schema up to date.

SQLite (a file, the default) and PostgreSQL (by URL) behave the same to the rest of the platform. On
SQLite every transaction that may write starts with BEGIN IMMEDIATE: it takes the write lock at once, so
two workers never both read a row and then race to change it (SQLite's default would fail one of them
half-way). Read-only sessions (`read_session_factory`) start a plain BEGIN and run beside the writer.

Every write transaction commits with synchronous=FULL (the commit is on disk before it returns), except
those of `bookkeeping_session_factory` (synchronous=NORMAL): for records whose loss in a power cut is
harmless, a commit that waits for no fsync. In WAL mode the next FULL commit puts them on disk too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from daifa.errors import DaifaError
from daifa.private_files import private_file

MIGRATIONS = Path(__file__).parent / "migrations"
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "permission denied"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # Only its owner may read it (SQLite gives its -wal and -shm files the same mode).
            private_file(Path(database))
        _make_sqlite_serialised(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _make_sqlite_serialised(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the listener below issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads (an engine with the `readonly` option) take no write lock: in WAL mode they see the last
        # commit and never wait for a writer.
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # no transaction: each statement reads the last commit (daifa.api.plan_reads' reads)
        if options.get("readonly", False):
            connection.exec_driver_sql("BEGIN")
            return
        connection.exec_driver_sql(f"PRAGMA synchronous = {options.get('sqlite_synchronous', 'FULL')}")
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def bookkeeping_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Write sessions whose commits on SQLite wait for no fsync (see above); on PostgreSQL the same as
    `session_factory`. For the API's kept answers: the key's claim commits (FULL) with the request's own
    changes; losing the answer kept after it in a power cut at worst makes a retry of that request answer
    "it took effect, read what it changed"."""
    return sessionmaker(engine.execution_options(sqlite_synchronous="NORMAL"), expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they do not take the write lock (on PostgreSQL nothing changes)."""
    return sessionmaker(engine.execution_options(readonly=True), expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class DatabaseNotWritable(DaifaError):
    """The database's role may not create the platform's tables."""

    code = "database_not_writable"


def migrate(engine: Engine) -> None:
    """Brings the schema to the newest migration (creating it on an empty database). A role that may not
    create tables there gets DatabaseNotWritable saying what to grant, not the driver's traceback."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        role, database = engine.url.username, engine.url.database
        said = str(error.orig).strip().splitlines()[0]
        raise DatabaseNotWritable(
            f"the role {role} may not create tables in database {database} ({said}): as the "
            f"database's owner run GRANT CREATE ON SCHEMA public TO {role}, or give the platform a database its "
            f"role owns (CREATE DATABASE daifa OWNER {role})"
        ) from None
