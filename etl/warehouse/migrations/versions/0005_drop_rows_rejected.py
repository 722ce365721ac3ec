"""Drop ``loads.rows_rejected``: nothing ever set it, yet the pack printed it.

A file loads whole or not at all (a rejected file is in quarantine with its
report, not in the load history), so a load has no rejected rows to count;
the column was always 0 and the pack's "Rejected" column said nothing true.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from etl.warehouse.db import schema_of

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN on both backends (SQLite 3.35+): a
    # batch copy-and-move would have to rebuild the partial unique index.
    op.drop_column("loads", "rows_rejected", schema=schema_of(op.get_bind()))


def downgrade() -> None:
    op.add_column(
        "loads",
        sa.Column("rows_rejected", sa.Integer(), nullable=False, server_default="0"),
        schema=schema_of(op.get_bind()),
    )
