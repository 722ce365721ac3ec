"""Record a pack's sign-off with its delivery: who approved it, when, and what they said.

An audience whose configuration asks for sign-off (``sign_off`` in
pack.yml) is sent its copy only once someone approved it, in Airflow or
with ``csc-pipeline report --send --approved-by``; the delivery row keeps
the approval.  The columns are empty for an audience sent without one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from etl.warehouse.db import schema_of

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("approved_by", "approved_at", "approval_comment")


def upgrade() -> None:
    schema = schema_of(op.get_bind())
    # Nullable columns added in place (ALTER TABLE ... ADD COLUMN on both backends).
    op.add_column(
        "deliveries", sa.Column("approved_by", sa.String(length=255), nullable=True), schema=schema
    )
    op.add_column(
        "deliveries",
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.add_column(
        "deliveries", sa.Column("approval_comment", sa.Text(), nullable=True), schema=schema
    )


def downgrade() -> None:
    schema = schema_of(op.get_bind())
    for column in reversed(COLUMNS):
        op.drop_column("deliveries", column, schema=schema)
