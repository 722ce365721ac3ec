"""DfE's published statistics: reference loads, published figures, statistical neighbours.

Written out column by column, like 0001.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_loads",
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.Column("publication", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Integer(), nullable=False),
        sa.Column("periods", sa.String(length=100), nullable=True),
        sa.Column("superseded", sa.JSON(), nullable=True),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_reference_loads")),
    )
    op.create_index("ix_reference_loads_publication", "reference_loads", ["publication"])
    op.create_table(
        "published_figures",
        sa.Column("publication", sa.String(length=16), nullable=False),
        sa.Column("time_period", sa.Integer(), nullable=False),
        sa.Column("geographic_level", sa.String(length=16), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("reported_as", sa.String(length=40), nullable=False),
        sa.Column("area_name", sa.String(length=120), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("symbol", sa.String(length=8), nullable=True),
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint(
            "publication",
            "measure",
            "time_period",
            "geographic_level",
            "area_code",
            name=op.f("pk_published_figures"),
        ),
    )
    op.create_table(
        "statistical_neighbours",
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("neighbour_code", sa.String(length=3), nullable=False),
        sa.Column("closeness", sa.String(length=20), nullable=False),
        sa.Column("la_name", sa.String(length=120), nullable=False),
        sa.Column("region_name", sa.String(length=120), nullable=False),
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("la_code", "position", name=op.f("pk_statistical_neighbours")),
    )


def downgrade() -> None:
    op.drop_table("statistical_neighbours")
    op.drop_table("published_figures")
    op.drop_index("ix_reference_loads_publication", table_name="reference_loads")
    op.drop_table("reference_loads")
