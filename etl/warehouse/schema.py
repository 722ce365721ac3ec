"""The warehouse tables, as SQLAlchemy Core metadata.

The three data tables are generated from the dataset contracts
(``etl/contracts/*.yml``): one SQL column per contract column, typed from its
:class:`ColumnType`, so the warehouse cannot disagree with the reader about
what a column is.  Each data row also carries fixed lineage columns:

* ``la_code`` - the LA (the contract's own ``la_code`` column, which must
  equal the file name's, is stored once, here);
* ``month`` - the extract month as a DATE on the first of the month (the
  same representation in every table, so ranges are plain date comparisons);
* ``load_id`` - the load (row of ``loads``) that wrote the row;
* ``source_row`` - the row number in the landed file (header = row 1).

Tables are defined without a schema: on PostgreSQL they live in a dedicated
schema through ``schema_translate_map`` (see :mod:`etl.warehouse.db`), on
SQLite in the main database.  Only Alembic creates or changes them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from etl.contracts import DATASETS, Column, ColumnType, Contract, load_contract
from etl.pseudonymise import PSEUDONYM_CHARS

#: Deterministic constraint names, so migrations can name what they change.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: The data table each dataset is stored in.
TABLE_NAMES: dict[str, str] = {
    "workforce": "workforce",
    # Every version of every referral: one per referral per extract month.
    "referrals": "referral_versions",
    "closures": "closures",
}

#: Lineage columns every data row carries, before the contract's columns.
LINEAGE_COLUMNS: tuple[str, ...] = ("la_code", "month", "load_id", "source_row")

LOAD_STATUSES: tuple[str, ...] = ("loading", "loaded", "unchanged")

#: ``la_code`` is a 3-digit DfE code; ``month`` a DATE on the 1st.
LA_CODE = sa.String(3)
LOAD_ID = sa.String(36)
KPI_ID_LENGTH = 40

# --- load history --------------------------------------------------------------

loads = sa.Table(
    "loads",
    metadata,
    sa.Column("load_id", LOAD_ID, primary_key=True),  # the batch id: a UUID
    sa.Column("dataset", sa.String(16), nullable=False),
    sa.Column("la_code", LA_CODE, nullable=False),
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    # loading: only inside the load's own transaction; loaded: the data rows
    # are in; unchanged: the same file as the current load, nothing written.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
    sa.Column("validation_summary", sa.JSON, nullable=True),
    sa.Column("loaded_by", sa.String(100), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded_by", LOAD_ID, sa.ForeignKey("loads.load_id"), nullable=True),
    # For an "unchanged" record: the current load that already had this file.
    sa.Column("duplicate_of", LOAD_ID, sa.ForeignKey("loads.load_id"), nullable=True),
    # When the measures this load changes were recomputed with it (NULL: not
    # yet; the DAG loads and recomputes in two tasks).  A pack is made only
    # from months whose current loads are all measured.
    sa.Column("measured_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(sa.column("status").in_(LOAD_STATUSES), name="status"),
    sa.CheckConstraint(sa.column("dataset").in_(DATASETS), name="dataset"),
)

#: The one predicate for "the current load" of a dataset, LA and month.
CURRENT_LOAD = sa.and_(loads.c.status == "loaded", loads.c.superseded_by.is_(None))

# At most one current load per dataset, LA and month: what makes a second
# concurrent load of the same month fail instead of silently doubling it.
sa.Index(
    "uq_loads_current",
    loads.c.dataset,
    loads.c.la_code,
    loads.c.month,
    unique=True,
    postgresql_where=CURRENT_LOAD,
    sqlite_where=CURRENT_LOAD,
)
sa.Index("ix_loads_la_code_month", loads.c.la_code, loads.c.month)

# --- data tables, generated from the contracts -------------------------------------


def sql_type(column: Column) -> sa.types.TypeEngine[Any]:
    """The SQL type of a contract column."""
    if column.identifier:
        # Identifiers are stored only as pseudonyms (fixed-length hex).
        return sa.String(PSEUDONYM_CHARS)
    match column.type:
        case ColumnType.TEXT:
            return sa.String(column.max_length) if column.max_length else sa.Text()
        case ColumnType.CODE:
            return sa.String(max(len(str(code)) for code in column.code_values))
        case ColumnType.DATE:
            return sa.Date()
        case ColumnType.BOOL:
            return sa.Boolean()
        case ColumnType.INT:
            return sa.Integer()
        case ColumnType.DECIMAL:
            # NUMERIC on PostgreSQL keeps the decimal the LA sent (0.1 stays
            # 0.1, so sums do not depend on row order); floats in Python.
            return sa.Numeric(asdecimal=False)
    raise ValueError(f"no SQL type for column type {column.type!r}")  # pragma: no cover


def contract_columns(contract: Contract) -> list[Column]:
    """The contract's columns stored in the data table (``la_code`` is lineage)."""
    return [c for c in contract.columns.values() if c.name not in LINEAGE_COLUMNS]


def _data_table(dataset: str) -> sa.Table:
    contract = load_contract(dataset)
    name = TABLE_NAMES[dataset]
    # Key: the contract's key within the month (a referral has one version
    # per extract month); without one (workforce), the file's row number.
    key = [*contract.key] if contract.key else ["source_row"]
    columns: list[sa.Column[Any]] = [
        sa.Column("la_code", LA_CODE, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        # No foreign key to loads: a million-row load would run a million
        # referential checks (half its time).  The row's load is written by
        # the same transaction, and load history is never deleted; the tests
        # check every row names its month's current load.
        sa.Column("load_id", LOAD_ID, nullable=False),
        sa.Column("source_row", sa.Integer, nullable=False),
    ]
    columns += [
        sa.Column(c.name, sql_type(c), nullable=not c.required) for c in contract_columns(contract)
    ]
    table = sa.Table(name, metadata, *columns)
    if contract.key:
        # (la_code, key..., month): "versions of this referral" is a prefix.
        table.append_constraint(sa.PrimaryKeyConstraint("la_code", *key, "month"))
        # Replacing a month deletes by (la_code, month).
        sa.Index(f"ix_{name}_la_code_month", table.c.la_code, table.c.month)
    else:
        table.append_constraint(sa.PrimaryKeyConstraint("la_code", "month", *key))
    return table


workforce = _data_table("workforce")
referral_versions = _data_table("referrals")
closures = _data_table("closures")

# A month's referrals, and the year before them that re-referrals look back
# on, are found by (la_code, referral_date) (migration 0007): through la_code
# alone they read the LA's whole history.  Re-referrals are then one sort of
# that span, so no index by child is kept (migration 0008): it was the
# dearest of the table's indexes to build and to maintain.
sa.Index(
    "ix_referral_versions_la_code_referral_date",
    referral_versions.c.la_code,
    referral_versions.c.referral_date,
)
sa.Index(
    "ix_referral_versions_la_code_assessment_authorised_date",
    referral_versions.c.la_code,
    referral_versions.c.assessment_authorised_date,
)

DATA_TABLES: dict[str, sa.Table] = {
    "workforce": workforce,
    "referrals": referral_versions,
    "closures": closures,
}

# --- working-day calendar -------------------------------------------------------------

# Every working day (Monday-Friday except England and Wales bank holidays) in
# a fixed range, filled from the ``holidays`` package by
# :func:`etl.warehouse.calendar.sync_calendar`.  Counting rows of this table
# is how SQL counts working days on both backends.
working_days = sa.Table(
    "working_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
)

# --- computed measures ----------------------------------------------------------------

measures = sa.Table(
    "measures",
    metadata,
    sa.Column("la_code", LA_CODE, nullable=False),
    sa.Column("month", sa.Date, nullable=False),  # reporting month (first day)
    sa.Column("kpi_id", sa.String(KPI_ID_LENGTH), nullable=False),
    # NULL when not available (zero denominator, input month missing).
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("numerator", sa.Double, nullable=True),
    sa.Column("denominator", sa.Double, nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),  # why value is blank
    sa.PrimaryKeyConstraint("la_code", "month", "kpi_id"),
)

# --- deliveries of the commissioner's pack ----------------------------------------------

DELIVERY_STATUSES: tuple[str, ...] = ("sent", "correction", "forced")
DELIVERY_TRANSPORTS: tuple[str, ...] = ("smtp", "outbox")

# One row per e-mail of a pack that went (SMTP accepted it, or its .eml was
# written to the outbox), written only after it went: what makes re-running
# a month send nothing (etl.report.publish).  pack_sha256 is the digest of
# the audience's content, so a changed pack is told from the same one.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("delivery_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("la_code", LA_CODE, nullable=False),
    sa.Column("month", sa.Date, nullable=False),  # reporting month (first day)
    sa.Column("audience", sa.String(40), nullable=False),
    sa.Column("pack_sha256", sa.String(64), nullable=False),
    # sent: the first of the month; correction: the pack changed since the
    # last one went; forced: the same pack again, on request.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("transport", sa.String(8), nullable=False),
    # The sign-off of an audience that needs one (pack.yml ``sign_off``): who
    # approved this copy, when, and their comment; empty for the others.
    sa.Column("approved_by", sa.String(255)),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("approval_comment", sa.Text),
    sa.CheckConstraint(sa.column("status").in_(DELIVERY_STATUSES), name="status"),
    sa.CheckConstraint(sa.column("transport").in_(DELIVERY_TRANSPORTS), name="transport"),
)
sa.Index(
    "ix_deliveries_la_code_month_audience",
    deliveries.c.la_code,
    deliveries.c.month,
    deliveries.c.audience,
)

# --- DfE's published statistics (etl.reference) ----------------------------------------

#: Area codes: a 3-digit LA code, or an ONS region or country code.
AREA_CODE = sa.String(12)
PUBLICATION = sa.String(16)

# One row per release file loaded (``csc-pipeline reference load``, or the
# copies ``init`` loads), like ``loads`` for the extracts.  ``superseded``
# lists the earlier loads whose years this one replaced, with those years.
reference_loads = sa.Table(
    "reference_loads",
    metadata,
    sa.Column("load_id", LOAD_ID, primary_key=True),
    sa.Column("publication", PUBLICATION, nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("figures", sa.Integer, nullable=False),
    #: The years the file holds ("2017-2025"), blank for the neighbour model.
    sa.Column("periods", sa.String(100), nullable=True),
    sa.Column("superseded", sa.JSON, nullable=True),
    sa.Column("loaded_by", sa.String(100), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_reference_loads_publication", reference_loads.c.publication)

# Every published value, long: one row per publication, year, level, area and
# column.  A value DfE did not publish as a number (c, u, x, z, low, k or
# blank) is NULL with its symbol kept.  A row DfE publishes for several LAs
# together ("314 / 318") is stored once per LA, ``reported_as`` keeping the
# joint code, so it stands for each and is counted once in a rank.
published_figures = sa.Table(
    "published_figures",
    metadata,
    sa.Column("publication", PUBLICATION, nullable=False),
    sa.Column("time_period", sa.Integer, nullable=False),
    sa.Column("geographic_level", sa.String(16), nullable=False),
    sa.Column("area_code", AREA_CODE, nullable=False),
    sa.Column("measure", sa.String(64), nullable=False),
    #: The date the figures describe (30 September; the year to 31 March).
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("reported_as", sa.String(40), nullable=False),
    sa.Column("area_name", sa.String(120), nullable=False),
    #: An LA's or a region's region; NULL for England.
    sa.Column("region_code", AREA_CODE, nullable=True),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("symbol", sa.String(8), nullable=True),
    sa.Column("load_id", LOAD_ID, nullable=False),
    sa.PrimaryKeyConstraint(
        "publication", "measure", "time_period", "geographic_level", "area_code"
    ),
)

# DfE's statistical neighbour model: each LA's neighbours, nearest first.
statistical_neighbours = sa.Table(
    "statistical_neighbours",
    metadata,
    sa.Column("la_code", LA_CODE, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("neighbour_code", LA_CODE, nullable=False),
    sa.Column("closeness", sa.String(20), nullable=False),
    sa.Column("la_name", sa.String(120), nullable=False),
    sa.Column("region_name", sa.String(120), nullable=False),
    sa.Column("load_id", LOAD_ID, nullable=False),
    sa.PrimaryKeyConstraint("la_code", "position"),
)
