"""Drop the referral versions' index by child.

Re-referrals were found by a look-up per referral on (la_code, child_id,
referral_date); they are now one window over the span of referral dates
(etl.warehouse.measures_sql.referrals_query), which that index does not
serve.  It was the dearest of the table's indexes: building it took longer
than the primary key for a 2-million-row load, and every load maintained it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from etl.warehouse.db import schema_of

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_referral_versions_la_code_child_id_referral_date"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="referral_versions", schema=schema_of(op.get_bind()))


def downgrade() -> None:
    op.create_index(
        INDEX,
        "referral_versions",
        ["la_code", "child_id", "referral_date"],
        schema=schema_of(op.get_bind()),
    )
