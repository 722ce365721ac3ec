"""Migrations: up from empty, down and up again, and never drifting from the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from etl.warehouse.calendar import expected_working_days
from etl.warehouse.db import (
    MIGRATIONS_DIR,
    WarehouseUnavailable,
    alembic_config,
    current_revision,
    downgrade,
    make_engine,
    schema_diff,
    schema_of,
    upgrade,
)
from etl.warehouse.schema import metadata, working_days
from tests.warehouse.conftest import BACKENDS, drop, new_engine


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (PostgreSQL: a new schema)."""
    engine, schema = new_engine(request.param, tmp_path)
    yield engine
    drop(engine, schema)


def _head() -> str:
    with make_engine("sqlite://").connect() as connection:
        heads = ScriptDirectory.from_config(alembic_config(connection)).get_heads()
    assert len(heads) == 1, f"migrations must have a single head, not {heads}"
    return heads[0]


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names(schema=schema_of(connection)))


def test_upgrade_from_empty_gives_the_models_schema(fresh: Engine) -> None:
    assert current_revision(fresh) is None
    upgrade(fresh)
    assert current_revision(fresh) == _head()
    assert _tables(fresh) == {*metadata.tables, "alembic_version"}
    assert schema_diff(fresh) == []


def test_downgrade_and_upgrade_again(fresh: Engine) -> None:
    upgrade(fresh)
    downgrade(fresh)
    assert current_revision(fresh) is None
    assert _tables(fresh) == {"alembic_version"}
    upgrade(fresh)
    assert current_revision(fresh) == _head()
    assert schema_diff(fresh) == []
    with fresh.connect() as connection:
        days = set(connection.scalars(sa.select(working_days.c.day)))
    assert days == expected_working_days()


def test_upgrade_twice_changes_nothing(fresh: Engine) -> None:
    upgrade(fresh)
    upgrade(fresh)
    assert schema_diff(fresh) == []
    with fresh.connect() as connection:
        count = connection.scalar(sa.select(sa.func.count()).select_from(working_days))
    assert count == len(expected_working_days())


def test_a_model_change_without_a_migration_is_caught(fresh: Engine) -> None:
    """The drift check really compares: an extra model column is reported."""
    upgrade(fresh)
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["measures"].append_column(sa.Column("not_migrated", sa.Integer))
    diff = schema_diff(fresh, changed)
    assert [d[0] for d in diff] == ["add_column"]
    assert diff[0][2] == "measures" and diff[0][3].name == "not_migrated"


def test_postgresql_tables_live_in_their_own_schema() -> None:
    engine = make_engine("postgresql+psycopg://u@localhost/db")
    assert schema_of(engine) == "csc"
    assert schema_of(make_engine("postgresql+psycopg://u@localhost/db", schema="x")) == "x"
    assert schema_of(make_engine("sqlite://")) is None


def test_revisions_do_not_import_the_models() -> None:
    """A revision is a fixed record: it must not follow later model edits."""
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        assert "etl.warehouse.schema" not in path.read_text(encoding="utf-8"), path.name


def test_an_unreachable_database_is_one_clear_sentence() -> None:
    engine = make_engine(
        "postgresql+psycopg://someone:secret@127.0.0.1:1/nowhere",
        connect_args={"connect_timeout": 2},
    )
    with pytest.raises(WarehouseUnavailable, match="cannot reach the warehouse at") as caught:
        upgrade(engine)
    assert "secret" not in str(caught.value)


def test_the_head_read_from_file_names_is_alembics() -> None:
    """``head_revision`` skips importing Alembic; it must agree with Alembic."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from etl.warehouse.db import MIGRATIONS_DIR, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [head_revision()]
    # Linear: every revision's file name starts with its own id.
    for revision in script.walk_revisions():
        assert Path(revision.path).name.startswith(f"{revision.revision}_")
