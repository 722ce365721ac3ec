"""The warehouse under test: SQLite (a temporary file) and the real PostgreSQL.

Each test module migrates one warehouse per backend (PostgreSQL: in a schema
of its own, dropped afterwards, so runs never collide); ``db`` empties its
tables before each test.  Without a reachable PostgreSQL the PostgreSQL half
is skipped locally and fails in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.schema import DATA_TABLES, loads, measures

PG_URL = os.environ.get("CSC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def postgres_or_skip() -> None:
    """Skip (fail in CI) when the test PostgreSQL cannot be reached."""
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL at {PG_URL} is not reachable: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()


def new_engine(backend: str, tmp: Path) -> tuple[Engine, str | None]:
    """A fresh, empty warehouse engine; (engine, PostgreSQL schema or None)."""
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp / 'warehouse.db'}"), None
    postgres_or_skip()
    schema = f"csc_test_{uuid.uuid4().hex[:10]}"
    return make_engine(PG_URL, schema=schema), schema


def drop(engine: Engine, schema: str | None) -> None:
    if schema is not None:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated warehouse shared by the tests of one module."""
    new, schema = new_engine(request.param, tmp_path_factory.mktemp("warehouse"))
    upgrade(new)
    yield new
    drop(new, schema)


def empty(engine: Engine) -> None:
    """Delete every load, data row and measure (the calendar stays)."""
    with engine.begin() as connection:
        connection.execute(sa.delete(measures))
        for table in DATA_TABLES.values():
            connection.execute(sa.delete(table))
        # Unlink the history first (its foreign keys point at itself).
        unlinked = {"superseded_by": None, "duplicate_of": None, "status": "unchanged"}
        connection.execute(sa.update(loads).values(unlinked))
        connection.execute(sa.delete(loads))


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The module's warehouse, empty."""
    empty(engine)
    return engine


@contextmanager
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own (the CLI puts its ``csc`` schema there), dropped after."""
    postgres_or_skip()
    name = f"csc_cli_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
