"""Deliveries of the commissioner's pack: one row per e-mail that went.

What makes publishing a month idempotent: a pack whose digest matches the
last delivery to an audience is not sent again unless forced, and a changed
one goes as a correction.  Written out column by column, like 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column("pack_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "status IN ('sent', 'correction', 'forced')", name=op.f("ck_deliveries_status")
        ),
        sa.CheckConstraint("transport IN ('smtp', 'outbox')", name=op.f("ck_deliveries_transport")),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "ix_deliveries_la_code_month_audience",
        "deliveries",
        ["la_code", "month", "audience"],
    )


def downgrade() -> None:
    op.drop_table("deliveries")
