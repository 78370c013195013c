"""The store: the migrations build exactly the models' schema, on SQLite and PostgreSQL, and the column
types keep what the platform puts in them (amounts up to 2**256 - 1, timezone-aware UTC times)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from daifa.store import models as m
from daifa.store.db import DatabaseNotWritable, make_engine, migrate, session_factory
from tests.needs import missing
from tests.postgres import fresh_database

POSTGRES = os.environ.get("DAIFA_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    if not POSTGRES:
        missing("PostgreSQL", "set DAIFA_TEST_POSTGRES_URL (make test does, through scripts/postgres.sh)")
    with fresh_database(POSTGRES, "daifa_store") as url:
        engine = make_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


def test_the_migrations_build_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
    assert differences == [], "add a migration: the models and the migrations disagree"


def test_migrating_twice_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), m.Base.metadata) == []


def test_amounts_and_times_come_back_exactly(engine: Engine) -> None:
    sessions = session_factory(engine)
    at = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    with sessions.begin() as session:
        session.add(m.Credit(token="0x" + "11" * 20, account="0x" + "22" * 20, amount=2**256 - 1))
        session.add(m.Event(type="test", subject="x", data={"n": 1}, created_at=at))
    with sessions() as session:
        assert session.get(m.Credit, ("0x" + "11" * 20, "0x" + "22" * 20)).amount == 2**256 - 1  # type: ignore[union-attr]
        event = session.query(m.Event).one()
        assert event.created_at == at and event.created_at.tzinfo is not None


def test_negative_amounts_and_naive_times_are_refused_before_the_database() -> None:
    with pytest.raises(ValueError):
        m.TokenAmount().process_bind_param(-1, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        m.UtcDateTime().process_bind_param(datetime(2027, 1, 1), None)  # type: ignore[arg-type]


def test_a_database_the_role_may_not_write_is_refused_with_what_to_grant() -> None:
    if not POSTGRES:
        missing("PostgreSQL", "set DAIFA_TEST_POSTGRES_URL (make test does, through scripts/postgres.sh)")
    with fresh_database(POSTGRES, "daifa_store") as url:
        # Tables would go into information_schema, which the role does not own: the server says 42501.
        engine = make_engine(url + "?options=-csearch_path%3Dinformation_schema")
        try:
            with pytest.raises(DatabaseNotWritable, match="GRANT CREATE ON SCHEMA public TO daifa") as refused:
                migrate(engine)
            assert "permission denied" in refused.value.message
        finally:
            engine.dispose()
