"""Index the referral versions by referral date, so a month's referrals are found
without reading the LA's whole history.

The referral measures of month M start from the current referrals received
in M.  Found through ``la_code`` alone, that read every version the LA ever
sent, once per month recomputed: month 120 of an LA cost seven times month
12 (bench/bench_history.py).  With (la_code, referral_date) it reads the
month's referrals only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from etl.warehouse.db import schema_of

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_referral_versions_la_code_referral_date"


def upgrade() -> None:
    op.create_index(
        INDEX, "referral_versions", ["la_code", "referral_date"], schema=schema_of(op.get_bind())
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="referral_versions", schema=schema_of(op.get_bind()))
