"""The record of packs that went: the ``deliveries`` table.

A row is written only after its e-mail went (SMTP accepted it or the
``.eml`` is in the outbox), so a mail server that is down leaves nothing
behind and the next run sends.  The latest row per audience says what that
audience last received.

Two publishers of the same month (two DAG runs, the DAG and the command line)
must not both see "not sent yet" and both send: :func:`delivery_lock` holds
a lock per LA and month from reading the last delivery until the new one is
recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.months import Month
from etl.warehouse.db import Bind, advisory_lock, transaction
from etl.warehouse.schema import deliveries


@dataclass(frozen=True)
class Approval:
    """Someone's sign-off of one audience's copy of a pack (pack.yml ``sign_off``)."""

    #: The approver: the Airflow user who answered, or ``--approved-by``.
    by: str
    at: datetime
    comment: str | None = None
    #: The digest of the copy approved; None: whatever the copy is now (the
    #: command line, which renders and sends in one go).  A copy that changed
    #: since it was approved is not sent on that approval.
    pack_sha256: str | None = None


@dataclass(frozen=True)
class Delivery:
    audience: str
    pack_sha256: str
    #: sent, correction or forced.
    status: str
    message_id: str
    sent_at: datetime
    recipients: int
    #: smtp or outbox.
    transport: str
    #: The sign-off it went on, for an audience that needs one.
    approval: Approval | None = None


@contextmanager
def delivery_lock(engine: Engine, la_code: str, month: Month) -> Iterator[Connection]:
    """A write transaction that no other publisher of the LA and month holds at once.

    PostgreSQL: a transaction-level advisory lock (released at commit or
    rollback, also when the client dies).  SQLite: the transaction begins
    with BEGIN IMMEDIATE, holding the database's write lock.  The lock spans
    one e-mail's send, a few seconds at most (the SMTP timeout bounds it).
    """
    with transaction(engine, write=True) as connection:
        advisory_lock(connection, f"deliver {la_code} {month}")
        yield connection


def last_deliveries(bind: Bind, la_code: str, month: Month) -> dict[str, Delivery]:
    """Per audience, the latest delivery of the month's pack."""
    d = deliveries
    query = (
        sa.select(d)
        .where(d.c.la_code == la_code, d.c.month == month.start)
        .order_by(d.c.sent_at, d.c.delivery_id)
    )
    with transaction(bind) as connection:
        rows = connection.execute(query).all()
    latest: dict[str, Delivery] = {}
    for row in rows:  # in order: later rows replace earlier ones
        latest[row.audience] = Delivery(
            audience=row.audience,
            pack_sha256=row.pack_sha256,
            status=row.status,
            message_id=row.message_id,
            sent_at=row.sent_at,
            recipients=row.recipients,
            transport=row.transport,
            approval=None
            if row.approved_by is None
            else Approval(row.approved_by, row.approved_at, row.approval_comment, row.pack_sha256),
        )
    return latest


def record_delivery(bind: Bind, la_code: str, month: Month, delivery: Delivery) -> None:
    """Record that ``delivery`` went (call only after it did)."""
    with transaction(bind, write=True) as connection:
        connection.execute(
            sa.insert(deliveries).values(
                la_code=la_code,
                month=month.start,
                audience=delivery.audience,
                pack_sha256=delivery.pack_sha256,
                status=delivery.status,
                message_id=delivery.message_id,
                sent_at=delivery.sent_at,
                recipients=delivery.recipients,
                transport=delivery.transport,
                approved_by=delivery.approval.by if delivery.approval else None,
                approved_at=delivery.approval.at if delivery.approval else None,
                approval_comment=delivery.approval.comment if delivery.approval else None,
            )
        )
