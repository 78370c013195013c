"""A fresh PostgreSQL database per test, on the server `DAIFA_TEST_POSTGRES_URL` names (make test starts one
through scripts/postgres.sh)."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

URL_ENV = "DAIFA_TEST_POSTGRES_URL"  # e.g. postgresql+psycopg://daifa:daifa@127.0.0.1:5432/postgres


@contextmanager
def fresh_database(server: str, prefix: str = "daifa_test") -> Iterator[str]:
    """Creates a database, yields its URL, drops it after, forcing out what still holds it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: object, name: str) -> None:
    # WITH (FORCE) ends the sessions still connected; one of them can be an autovacuum worker the test's
    # role may not end (scripts/postgres.sh grants pg_signal_backend for that), so a failure is retried
    # and, at worst, reported instead of failing the test that already passed.
    for attempt in range(5):
        try:
            with admin.connect() as connection:  # type: ignore[attr-defined]
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError as error:
            if attempt == 4:
                warnings.warn(f"could not drop test database {name}: {error}", stacklevel=2)
                return
            time.sleep(0.5)
