"""Alembic environment: migrate through the connection the caller hands over.

The warehouse is migrated by :func:`etl.warehouse.db.upgrade` (``csc-pipeline
init``), which passes its connection in ``config.attributes["connection"]``;
on PostgreSQL that connection carries the ``schema_translate_map`` placing
every table in the warehouse schema, and the version table goes there too.
From the ``alembic`` command line (``-c etl/warehouse/migrations/alembic.ini
-x url=...``) an engine is made from the URL the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from etl.warehouse.db import make_engine, schema_of
from etl.warehouse.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    schema = schema_of(connection)
    if schema is not None:
        connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        compare_type=True,
        # SQLite cannot ALTER most things: later migrations copy-and-move.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the warehouse URL: alembic ... -x url=postgresql+psycopg://...")
    engine = make_engine(url)
    with engine.begin() as new_connection:
        _run(new_connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them online")
run_online()
