"""Loads record when their measures were recomputed (``loads.measured_at``).

A pack is rendered only when every current load it reads has been measured,
so figures computed before a resubmission are never published as its.  Loads
already in the warehouse were measured in their own transaction (before the
DAG split load and measures) or by the DAG's next task: they are marked
measured at their load time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from etl.warehouse.db import schema_of

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str | None:
    # Alembic's ALTER and UPDATE are not rewritten by the schema_translate_map.
    return schema_of(op.get_bind())


def upgrade() -> None:
    op.add_column(
        "loads",
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=True),
        schema=_schema(),
    )
    loads = sa.table(
        "loads",
        sa.column("status", sa.String),
        sa.column("loaded_at", sa.DateTime(timezone=True)),
        sa.column("measured_at", sa.DateTime(timezone=True)),
        schema=_schema(),
    )
    op.execute(
        sa.update(loads).where(loads.c.status == "loaded").values(measured_at=loads.c.loaded_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("loads", schema=_schema()) as batch:
        batch.drop_column("measured_at")
