"""Engines and schema migrations for the warehouse.

One set of table definitions serves both backends.  On PostgreSQL the tables
live in a dedicated schema (``csc`` unless told otherwise) through SQLAlchemy's
``schema_translate_map``: every statement built from the metadata names the
schema, nothing relies on ``search_path``.  On SQLite there is no schema.

The schema is created and changed only by the Alembic migrations in
``etl/warehouse/migrations``; :func:`upgrade` runs them on a given engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.errors import CscError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that migrate (a fifth of a second):
# every command and task reaches this module, and only ``init`` migrates.

#: The PostgreSQL schema the warehouse lives in.
SCHEMA = "csc"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: How long a SQLite writer waits for another's lock before giving up.
SQLITE_BUSY_SECONDS = 300

Bind = Engine | Connection
#: Execution option marking a transaction that will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "csc_write"


def make_engine(url: str | sa.URL, *, schema: str = SCHEMA, **kwargs: Any) -> Engine:
    """An engine for the warehouse at ``url`` (PostgreSQL tables in ``schema``)."""
    url = sa.make_url(url)
    if url.get_backend_name() == "postgresql":
        options = dict(kwargs.pop("execution_options", {}))
        options["schema_translate_map"] = {None: schema}
        return sa.create_engine(url, execution_options=options, **kwargs)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, **kwargs)
    # A second writer waits for the first (a big load can take a minute)
    # rather than failing after pysqlite's default 5 seconds.
    connect_args = {"timeout": SQLITE_BUSY_SECONDS, **kwargs.pop("connect_args", {})}
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """Make SQLite transactions real, DDL included.

    pysqlite begins a transaction only before INSERT/UPDATE/DELETE, so a
    CREATE TABLE or a read before the first write would run outside it.
    The SQLAlchemy recipe: turn pysqlite's handling off and emit BEGIN
    ourselves when SQLAlchemy begins a transaction.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A writing transaction takes the write lock up front, so a second
        # writer waits for it (busy timeout) instead of failing on upgrade.
        write = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def advisory_lock(connection: Connection, what: str) -> None:
    """Hold PostgreSQL's transaction-level advisory lock named ``what`` in this
    warehouse (schema) until commit or rollback; SQLite: nothing to do, the
    writing transaction (BEGIN IMMEDIATE) holds the database's lock."""
    if not is_postgresql(connection):
        return
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(connection, what))))


def try_advisory_lock(connection: Connection, what: str) -> bool:
    """:func:`advisory_lock` if no other transaction holds it; whether it was taken
    (SQLite: always, its writer is alone)."""
    if not is_postgresql(connection):
        return True
    key = _lock_key(connection, what)
    return bool(connection.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key))))


def _lock_key(connection: Connection, what: str) -> int:
    name = f"csc-pipeline {what} {schema_of(connection)}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def schema_of(bind: Bind) -> str | None:
    """The schema the warehouse tables live in (None on SQLite)."""
    translate = bind.get_execution_options().get("schema_translate_map") or {}
    schema: str | None = translate.get(None)
    return schema


def is_postgresql(bind: Bind) -> bool:
    return bind.dialect.name == "postgresql"


class WarehouseUnavailable(CscError):
    """The warehouse database cannot be reached."""


class WarehouseNotCreated(CscError):
    """The warehouse database is there but has no schema yet (``csc-pipeline init``)."""


class WarehouseOutOfDate(CscError):
    """The warehouse's schema is not the one this version of csc-pipeline needs."""


#: How long a PostgreSQL connection attempt waits before the warehouse counts as down.
CONNECT_TIMEOUT_SECONDS = 10


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection, or one clear sentence (no password) when the database is down."""
    try:
        connection = engine.connect()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no reason given"
        raise WarehouseUnavailable(
            f"cannot reach the warehouse at {where} (CSC_WAREHOUSE_URL): {reason}"
        ) from exc
    with connection:
        yield connection


def open_warehouse(url: str, *, must_exist: bool) -> Engine:
    """An engine for the warehouse at ``url`` that has connected once.

    ``must_exist`` (every command but ``init``): a SQLite file that is not
    there is :class:`WarehouseNotCreated`, not silently created empty.
    Raises :class:`WarehouseUnavailable` when the database cannot be reached.
    """
    parsed = sa.make_url(url)
    database = parsed.database or ""
    sqlite_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if must_exist and sqlite_file and not Path(database).is_file():
        raise WarehouseNotCreated(not_created(url))
    extra: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        extra["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = make_engine(url, **extra)
    with connect(engine):
        pass
    if must_exist:
        require_current_schema(engine, url)
    return engine


def head_revision() -> str:
    """The newest migration's revision.

    Read from the file names (``0005_drop_rows_rejected.py`` is revision
    ``0005``; the history is linear, a test checks both against Alembic's)
    because importing Alembic's script machinery costs most of a second.
    """
    versions = MIGRATIONS_DIR / "versions"
    return max(p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the warehouse (None: never migrated)."""
    with connect(engine) as connection:
        schema = schema_of(connection)
        if not sa.inspect(connection).has_table("alembic_version", schema=schema):
            return None
        # A lightweight table clause is not schema-translated: name the schema.
        version = sa.table("alembic_version", sa.column("version_num", sa.String), schema=schema)
        return connection.scalar(sa.select(version.c.version_num))


def require_current_schema(engine: Engine, url: str) -> None:
    """One sentence unless the warehouse is migrated to :func:`head_revision`."""
    at, head = stored_revision(engine), head_revision()
    if at == head:
        return
    if at is None:
        raise WarehouseNotCreated(not_created(url))
    where = sa.make_url(url).render_as_string(hide_password=True)
    if at > head:
        raise WarehouseOutOfDate(
            f"the warehouse at {where} (CSC_WAREHOUSE_URL) was upgraded by a newer "
            f"csc-pipeline (schema revision {at}; this one knows up to {head}): "
            "install that version"
        )
    raise WarehouseOutOfDate(
        f"the warehouse at {where} (CSC_WAREHOUSE_URL) is at schema revision {at} and "
        f"this csc-pipeline needs {head}: run `csc-pipeline init` to upgrade it"
    )


def not_created(url: str) -> str:
    """The sentence for a warehouse that ``csc-pipeline init`` has not created."""
    where = sa.make_url(url).render_as_string(hide_password=True)
    return (
        f"the warehouse at {where} (CSC_WAREHOUSE_URL) has no tables yet: "
        "run `csc-pipeline init` first"
    )


@contextmanager
def transaction(bind: Bind, *, write: bool = False) -> Iterator[Connection]:
    """A connection inside a transaction: a new one for an Engine, or ``bind``'s.

    A Connection already in a transaction is used as it is: the caller owns
    the transaction and commits it.  ``write`` marks a transaction that will
    write (on SQLite it takes the write lock when it begins).
    """
    if isinstance(bind, Engine):
        with connect(bind) as connection:
            if write:
                connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection
    elif bind.in_transaction():
        yield bind
    else:
        was = bind.get_execution_options().get(WRITE_OPTION, False)
        bind.execution_options(**{WRITE_OPTION: write})
        try:
            with bind.begin():
                yield bind
        finally:
            bind.execution_options(**{WRITE_OPTION: was})


# --- migrations ---------------------------------------------------------------------


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that migrates through ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(bind: Bind, revision: str = "head") -> None:
    """Migrate the warehouse up to ``revision`` and refresh the working-day calendar."""
    from alembic import command

    from etl.warehouse.calendar import sync_calendar

    with transaction(bind) as connection:
        command.upgrade(alembic_config(connection), revision)
        if sa.inspect(connection).has_table("working_days", schema=schema_of(connection)):
            sync_calendar(connection)


def downgrade(bind: Bind, revision: str = "base") -> None:
    """Migrate the warehouse down to ``revision`` (``base``: drop every table)."""
    from alembic import command

    with transaction(bind) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(bind: Bind) -> str | None:
    """The Alembic revision the warehouse is at (None when never migrated)."""
    from alembic.migration import MigrationContext

    with transaction(bind) as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table_schema": schema_of(connection)}
        )
        return context.get_current_revision()


def schema_diff(bind: Bind, models: sa.MetaData | None = None) -> list[Any]:
    """Differences between the migrated database and the models (empty: in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from etl.warehouse.schema import metadata

    models = metadata if models is None else models
    with transaction(bind) as connection:
        schema = schema_of(connection)
        target = models
        if schema is not None:
            # Reflection does not apply schema_translate_map: compare against
            # a copy of the models placed in the schema itself.
            target = sa.MetaData(naming_convention=models.naming_convention)
            for table in models.tables.values():
                table.to_metadata(target, schema=schema)
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": schema is not None,
                "include_name": _only_schema(schema),
                "compare_type": True,
                "version_table_schema": schema,
            },
        )
        return list(compare_metadata(context, target))


def _only_schema(schema: str | None) -> Any:
    def include(name: str | None, type_: str, _parent: Any) -> bool:
        if type_ == "schema":
            return name == schema
        return not (type_ == "table" and name == "alembic_version")

    return include
