"""Initial schema: load history, data tables, working-day calendar, measures.

Written out column by column (first produced by autogenerate from the models,
then tidied): a migration is a fixed record of a schema change and must not
follow later edits of the contracts.  tests/warehouse/test_migrations.py
checks that migrating to head gives exactly the models' schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT_LOAD = sa.text("status = 'loaded' AND superseded_by IS NULL")


def _lineage() -> list[sa.Column[object]]:
    """la_code, month, load_id, source_row: first in every data table.

    load_id has no foreign key on purpose (see etl/warehouse/schema.py).
    """
    return [
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "loads",
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.Column("dataset", sa.String(length=16), nullable=False),
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("validation_summary", sa.JSON(), nullable=True),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.String(length=36), nullable=True),
        sa.Column("duplicate_of", sa.String(length=36), nullable=True),
        sa.CheckConstraint(
            "dataset IN ('workforce', 'referrals', 'closures')", name=op.f("ck_loads_dataset")
        ),
        sa.CheckConstraint(
            "status IN ('loading', 'loaded', 'unchanged')", name=op.f("ck_loads_status")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["loads.load_id"], name=op.f("fk_loads_duplicate_of_loads")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["loads.load_id"], name=op.f("fk_loads_superseded_by_loads")
        ),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_loads")),
    )
    op.create_index("ix_loads_la_code_month", "loads", ["la_code", "month"])
    op.create_index(
        "uq_loads_current",
        "loads",
        ["dataset", "la_code", "month"],
        unique=True,
        postgresql_where=_CURRENT_LOAD,
        sqlite_where=_CURRENT_LOAD,
    )

    op.create_table(
        "workforce",
        *_lineage(),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("record_type", sa.String(length=7), nullable=False),
        sa.Column("post_id", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("org_role", sa.Integer(), nullable=False),
        sa.Column("fte", sa.Numeric(asdecimal=False), nullable=False),
        sa.Column("worker_id", sa.String(length=32), nullable=True),
        sa.Column("agency_worker", sa.Boolean(), nullable=True),
        sa.Column("covered_by_agency", sa.Boolean(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("reason_leave", sa.Integer(), nullable=True),
        sa.Column("caseload", sa.Integer(), nullable=True),
        sa.Column("working_days_lost", sa.Numeric(asdecimal=False), nullable=True),
        sa.PrimaryKeyConstraint("la_code", "month", "source_row", name=op.f("pk_workforce")),
    )

    op.create_table(
        "referral_versions",
        *_lineage(),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("child_id", sa.String(length=32), nullable=False),
        sa.Column("referral_date", sa.Date(), nullable=False),
        sa.Column("referral_source", sa.String(length=2), nullable=False),
        sa.Column("primary_need", sa.String(length=2), nullable=True),
        sa.Column("nfa", sa.Boolean(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("ethnicity", sa.String(length=4), nullable=True),
        sa.Column("assessment_start_date", sa.Date(), nullable=True),
        sa.Column("assessment_authorised_date", sa.Date(), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("allocated", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint(
            "la_code", "referral_id", "month", name=op.f("pk_referral_versions")
        ),
    )
    for columns in (
        ["la_code", "month"],
        ["la_code", "child_id", "referral_date"],
        ["la_code", "assessment_authorised_date"],
    ):
        op.create_index(f"ix_referral_versions_{'_'.join(columns)}", "referral_versions", columns)

    op.create_table(
        "closures",
        *_lineage(),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("child_id", sa.String(length=32), nullable=False),
        sa.Column("referral_date", sa.Date(), nullable=False),
        sa.Column("closure_date", sa.Date(), nullable=False),
        sa.Column("closure_reason", sa.String(length=3), nullable=False),
        sa.Column("capacity_closure", sa.Boolean(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("la_code", "referral_id", "month", name=op.f("pk_closures")),
    )
    op.create_index("ix_closures_la_code_month", "closures", ["la_code", "month"])

    # Filled (and kept in step with the holidays package) by
    # etl.warehouse.calendar.sync_calendar, which etl.warehouse.db.upgrade runs.
    op.create_table(
        "working_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_working_days")),
    )

    op.create_table(
        "measures",
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kpi_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("numerator", sa.Double(), nullable=True),
        sa.Column("denominator", sa.Double(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("la_code", "month", "kpi_id", name=op.f("pk_measures")),
    )


def downgrade() -> None:
    # Indexes go with their tables; data tables before the loads they reference.
    for table in ("measures", "working_days", "closures", "referral_versions", "workforce"):
        op.drop_table(table)
    op.drop_table("loads")
