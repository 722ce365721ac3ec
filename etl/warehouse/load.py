"""Load one month of one dataset for one LA, atomically, with lineage.

The steps, all inside ONE transaction (so a crash anywhere - a killed process,
a lost connection, a failed check - leaves the previous state untouched):

1. take the LA's load lock (PostgreSQL advisory lock; SQLite locks the file);
2. if the current load of (dataset, LA, month) has the same SHA-256, record
   an "unchanged" load and stop: loading the same file twice is a no-op;
3. write the rows to a temporary staging table (PostgreSQL: COPY through
   psycopg 3; SQLite: executemany) and check they are the file's rows, each
   once, by their file row numbers;
4. record the load, mark the previous one superseded by it, delete the
   month's rows from the data table and insert them from staging;
5. recompute the measures of every month the load affects, and mark the load
   measured (``measured_at``), which is what lets a pack be made from it.

Referrals are versions: the month-M file's rows are stored with month = M
and replace only month M's versions, so a later month's version of the same
referral stays current (:func:`etl.warehouse.measures_sql.current_referrals`).
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.contracts import Contract, load_contract
from etl.errors import CscError
from etl.months import Month, month_range
from etl.pseudonymise import PSEUDONYM_CHARS
from etl.warehouse.db import (
    Bind,
    advisory_lock,
    is_postgresql,
    schema_of,
    transaction,
    try_advisory_lock,
)
from etl.warehouse.measures import (
    in_periods,
    known_months_of,
    months_affected,
    recompute_measures_of,
)
from etl.warehouse.schema import CURRENT_LOAD, DATA_TABLES, contract_columns, loads, measures

log = logging.getLogger(__name__)

#: Name of the reader's row-number column, kept as ``source_row``.
ROW = "_row"
#: Rows per block of COPY data (bounds the memory of the CSV text).
COPY_CHUNK_ROWS = 100_000
#: A load of at least this many rows refreshes the table's planner statistics,
ANALYZE_MIN_ROWS = 1_000
#: if it is at least this fraction of the rows the statistics last counted.
ANALYZE_MIN_FRACTION = 0.1
#: A PostgreSQL load of at least this many rows into a table no bigger than
#: itself drops the table's indexes and builds them after the insert.
REBUILD_MIN_ROWS = 100_000
#: maintenance_work_mem for those index builds (PostgreSQL's default is 64MB).
REBUILD_SORT_MEMORY = "256MB"
_PSEUDONYM = re.compile(rf"^[0-9a-f]{{{PSEUDONYM_CHARS}}}$")


class LoadError(CscError):
    """A load refused: the frame does not fit the month, the LA or the contract."""


@dataclass(frozen=True)
class LoadResult:
    load_id: str
    #: "loaded" (the month's rows replaced) or "unchanged" (same file: no-op).
    status: str
    rows_loaded: int
    #: The load this one replaced, if the month was loaded before.
    superseded: str | None = None
    #: Months whose measures were recomputed.
    months_recomputed: list[Month] = field(default_factory=list)
    #: For referrals, the earliest month a replaced or new version dates from
    #: (what :func:`recompute_after_load` needs when ``recompute=False``).
    earliest: Month | None = None


def load_month(
    bind: Bind,
    *,
    dataset: str,
    la_code: str,
    month: Month,
    frame: pd.DataFrame,
    file_name: str,
    file_sha256: str,
    rows_read: int,
    warnings: int = 0,
    validation_summary: Mapping[str, Any] | None = None,
    loaded_by: str,
    force: bool = False,
    recompute: bool = True,
) -> LoadResult:
    """Replace ``month`` of ``dataset`` for ``la_code`` with ``frame``, atomically.

    ``frame`` is the typed, already pseudonymised frame of the reader (the
    contract's columns; ``_row`` is kept as ``source_row`` when present).
    ``force`` reloads even a file identical to the current load (a rerun
    after a fix).  ``recompute=False`` leaves the measures to the caller.
    """
    contract = load_contract(dataset)
    with transaction(bind, write=True) as connection:
        _lock(connection, la_code)
        current = _current_load(connection, dataset, la_code, month)
        # Every record of this file says the same, whatever its status.
        file = LaFile(
            la_code, frame, file_name, file_sha256, rows_read, warnings, validation_summary
        )
        record = functools.partial(_record, connection, dataset, month, file, loaded_by)
        if current is not None and current.file_sha256 == file_sha256 and not force:
            load_id = record(status="unchanged", duplicate_of=current.load_id)
            return LoadResult(load_id, "unchanged", 0)

        started = time.perf_counter()
        rows = _prepare(frame, contract, la_code)
        stage = _staging_table(connection, dataset)
        stage.create(connection)
        _stage_rows(connection, stage, rows)
        staged = _check_staged(connection, stage, rows, file_name)
        seconds = {"staged": time.perf_counter() - started}

        load_id = record(status="loading")
        if current is not None:
            connection.execute(
                sa.update(loads)
                .where(loads.c.load_id == current.load_id)
                .values(superseded_by=load_id)
            )
        earliest = _swap(connection, dataset, la_code, month, stage, load_id, staged)
        stage.drop(connection)
        seconds["swapped"] = time.perf_counter() - started - sum(seconds.values())
        if staged >= ANALYZE_MIN_ROWS and _analyze(connection, DATA_TABLES[dataset], staged):
            seconds["analysed"] = time.perf_counter() - started - sum(seconds.values())
        connection.execute(
            sa.update(loads)
            .where(loads.c.load_id == load_id)
            .values(status="loaded", rows_loaded=staged)
        )

        recomputed: list[Month] = []
        if recompute:
            recomputed = _recompute(connection, dataset, la_code, [(month, earliest)])
            seconds["measured"] = time.perf_counter() - started - sum(seconds.values())
        # Where a big load's time goes (counts and seconds only, never values).
        log.info(
            "%s %s %s: %d rows; %s",
            dataset,
            la_code,
            month,
            staged,
            ", ".join(f"{step} in {value:.2f} s" for step, value in seconds.items()),
        )
        return LoadResult(
            load_id,
            "loaded",
            staged,
            superseded=None if current is None else current.load_id,
            months_recomputed=recomputed,
            earliest=earliest,
        )


def recompute_after_load(
    bind: Bind, *, dataset: str, la_code: str, month: Month, earliest: Month | None = None
) -> list[Month]:
    """Recompute the measures a load of ``dataset`` for ``month`` can change.

    For a load made with ``recompute=False`` (the Airflow DAG recomputes in a
    task of its own, retried on its own).  Idempotent: running it twice gives
    the same measures.  Returns the months recomputed.
    """
    return recompute_after_loads(bind, dataset=dataset, la_code=la_code, loaded=[(month, earliest)])


def recompute_after_loads(
    bind: Bind,
    *,
    dataset: str,
    la_code: str,
    loaded: Sequence[tuple[Month, Month | None]],
) -> list[Month]:
    """Recompute, once, the measures that loads of ``dataset`` for one LA can change.

    ``loaded``: each load's month and earliest month touched (see
    :class:`LoadResult`).  The measures are a function of the loaded rows
    only, so after a backfill's 36 loads one pass over the union of the
    months they affect gives what 36 passes give (700-odd month
    recomputations for a referrals backfill, not 50).  Returns the months.
    """
    return recompute_after_loads_of(bind, dataset=dataset, loaded={la_code: loaded})[la_code]


def recompute_after_loads_of(
    bind: Bind,
    *,
    dataset: str,
    loaded: Mapping[str, Sequence[tuple[Month, Month | None]]],
) -> dict[str, list[Month]]:
    """:func:`recompute_after_loads` of many LAs' loads, set-based, in one transaction.

    ``loaded``: each LA's loads (month and earliest month touched).  Returns
    each LA's months recomputed.
    """
    with transaction(bind, write=True) as connection:
        # Sorted: two of these over overlapping LAs take their locks in one order.
        for la_code in sorted(loaded):
            _lock(connection, la_code)
        return _recompute_of(connection, dataset, loaded)


def _recompute(
    connection: Connection,
    dataset: str,
    la_code: str,
    loaded: Sequence[tuple[Month, Month | None]],
) -> list[Month]:
    """Recompute the measures the loads can change; returns the months."""
    return _recompute_of(connection, dataset, {la_code: loaded})[la_code]


def _recompute_of(
    connection: Connection,
    dataset: str,
    loaded: Mapping[str, Sequence[tuple[Month, Month | None]]],
) -> dict[str, list[Month]]:
    """:func:`_recompute` of each LA's loads, set-based; each LA's months recomputed."""
    affected: dict[str, set[Month]] = {}
    for la_code, loads_of_la in loaded.items():
        reached = affected.setdefault(la_code, set())
        for month, earliest in loads_of_la:
            reached |= set(months_affected(dataset, month))
            if earliest is not None and earliest < month:
                # Versions of referrals from before the usual 12 months.
                reached |= set(month_range(earliest, month.months_since(earliest)))
    done: dict[str, list[Month]] = {la_code: [] for la_code in loaded}
    if not any(affected.values()):
        return done
    spans = [m for reached in affected.values() for m in reached]
    known = known_months_of(connection, loaded, min(spans), max(spans))
    own = {la: sorted({month for month, _earliest in of_la}) for la, of_la in loaded.items()}
    every_own = sorted({m for of_la in own.values() for m in of_la})
    stored = sa.select(measures.c.la_code, measures.c.month).where(
        measures.c.la_code.in_(sorted(loaded)), measures.c.month.in_([m.start for m in every_own])
    )
    measured = {
        (la, Month(d.year, d.month)) for la, d in connection.execute(stored.distinct()).all()
    }
    # Only this dataset's measures can change, except in a month that had
    # no measures yet: it gets every measure (blank where not loaded).
    everything: dict[str, list[Month]] = {}
    this_dataset: dict[str, list[Month]] = {}
    the_others: dict[str, list[Month]] = {}
    for la_code in loaded:
        months = sorted(affected[la_code] & known[la_code])
        new_months = [month for month in own[la_code] if (la_code, month) not in measured]
        done[la_code] = months
        if new_months == months:
            # Only new months (an LA's first load of a month, often): one pass.
            everything[la_code] = months
        else:
            this_dataset[la_code] = months
            the_others[la_code] = new_months
    recompute_measures_of(connection, everything)
    recompute_measures_of(connection, this_dataset, [dataset])
    recompute_measures_of(connection, the_others, [d for d in DATA_TABLES if d != dataset])
    # Each month's current load is now reflected in every measure it changes.
    connection.execute(
        sa.update(loads)
        .where(loads.c.dataset == dataset, in_periods(loads, own), CURRENT_LOAD)
        .values(measured_at=datetime.now(UTC))
    )
    return done


# --- steps ----------------------------------------------------------------------------


def _lock(connection: Connection, la_code: str) -> None:
    """Serialise loads of one LA: they rewrite the same months' measures.

    PostgreSQL: a transaction-level advisory lock, released at commit or
    rollback (also when the client dies).  SQLite: the transaction began
    with BEGIN IMMEDIATE, holding the database's write lock to its end.
    """
    # Per warehouse (schema) and LA: other LAs and warehouses load freely.
    advisory_lock(connection, f"load {la_code}")


@dataclass(frozen=True)
class _Current:
    load_id: str
    file_sha256: str


def _current_load(
    connection: Connection, dataset: str, la_code: str, month: Month
) -> _Current | None:
    query = sa.select(loads.c.load_id, loads.c.file_sha256).where(
        loads.c.dataset == dataset,
        loads.c.la_code == la_code,
        loads.c.month == month.start,
        CURRENT_LOAD,
    )
    row = connection.execute(query).one_or_none()
    return None if row is None else _Current(row.load_id, row.file_sha256)


def _record(
    connection: Connection,
    dataset: str,
    month: Month,
    file: LaFile,
    loaded_by: str,
    *,
    status: str,
    duplicate_of: str | None = None,
) -> str:
    """Insert the ``loads`` row of ``file``; returns its load id."""
    values = _record_values(dataset, month, file, loaded_by, datetime.now(UTC), status)
    connection.execute(sa.insert(loads).values({**values, "duplicate_of": duplicate_of}))
    return str(values["load_id"])


def _prepare(frame: pd.DataFrame, contract: Contract, la_code: str) -> pd.DataFrame:
    """The staging columns of ``frame`` (source_row + contract columns), checked."""
    names = [c.name for c in contract_columns(contract)]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise LoadError(f"the {contract.dataset} frame lacks columns: {', '.join(missing)}")
    if "la_code" in frame.columns:
        other = frame["la_code"].dropna()
        if (other != la_code).any():
            raise LoadError(f"the frame holds rows of another LA than {la_code}")
    # Last line of defence for privacy: only pseudonyms may reach the tables.
    for column in contract.identifier_columns:
        values = frame[column].dropna().astype("str")
        if not values.str.fullmatch(_PSEUDONYM).all():
            raise LoadError(
                f"column {column} holds values that are not pseudonyms; "
                "raw identifiers are never stored"
            )
    # No copy: pandas' copy-on-write keeps the caller's frame as it is.
    rows = frame[names]
    source = frame[ROW] if ROW in frame.columns else pd.RangeIndex(2, len(frame) + 2)
    rows.insert(0, "source_row", pd.Series(source, index=frame.index).astype("int64"))
    return rows.reset_index(drop=True)


def _check_staged(
    connection: Connection, stage: sa.Table, rows: pd.DataFrame, file_name: str
) -> int:
    """The staged rows are the file's rows, each once: returns how many.

    Compared by the file's row numbers (count, distinct count and sum of
    ``source_row``), so a COPY that split a quoted field into two rows,
    merged two, or wrote one twice is caught here, before the swap.
    """
    row = stage.c.source_row
    found = connection.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(row)), sa.func.sum(row))
    ).one()
    return _same_rows(file_name, rows, (int(found[0]), int(found[1]), int(found[2] or 0)))


def _same_rows(file_name: str, rows: pd.DataFrame, got: tuple[int, int, int]) -> int:
    """The staged count, if ``got`` (count, distinct count and sum of ``source_row``
    staged) is what ``rows`` hold; else :class:`LoadError`."""
    expected = (len(rows), int(rows["source_row"].nunique()), int(rows["source_row"].sum()))
    if got != expected:
        raise LoadError(
            f"{file_name}: the staged rows are not the file's ({got[0]} staged, {got[1]} distinct "
            f"row numbers, against {expected[0]} rows in the file); not loaded"
        )
    return got[0]


def _staging_table(connection: Connection, dataset: str) -> sa.Table:
    """A temporary table with the data table's columns minus the lineage."""
    # PostgreSQL: pg_temp is the session's temporary schema (never translated
    # into the warehouse schema).  SQLite: the temp database.
    return _staging_definition(dataset, "pg_temp" if is_postgresql(connection) else "temp")


@cache
def _staging_definition(dataset: str, schema: str) -> sa.Table:
    # One definition per dataset and backend, so SQLAlchemy's statement
    # cache recognises the staging statements from one load to the next.
    target = DATA_TABLES[dataset]
    names = ["source_row", *(c.name for c in contract_columns(load_contract(dataset)))]
    return sa.Table(
        f"stage_{target.name}",
        sa.MetaData(),
        *(sa.Column(n, target.c[n].type) for n in names),
        schema=schema,
        prefixes=["TEMPORARY"],
    )


def _stage_rows(connection: Connection, stage: sa.Table, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    if is_postgresql(connection):
        _copy_rows(connection, stage, rows)
    else:
        connection.execute(sa.insert(stage), list(_records(rows)))


def _copy_rows(connection: Connection, stage: sa.Table, rows: pd.DataFrame) -> None:
    """COPY the rows into the staging table through psycopg 3, in CSV blocks."""
    # Imported here, as SQLAlchemy imports its driver: not for a SQLite warehouse.
    from psycopg import sql as pgsql

    statement = pgsql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT csv)").format(
        table=pgsql.Identifier("pg_temp", stage.name),
        columns=pgsql.SQL(", ").join(pgsql.Identifier(name) for name in rows.columns),
    )
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has one
        raise LoadError("no database connection to COPY through")
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for block in _csv_blocks(rows):
            copy.write(block)


def _csv_blocks(rows: pd.DataFrame) -> Iterator[bytes]:
    """The rows as CSV text for COPY: empty unquoted field = NULL.

    A blank text is stored as NULL, as the reader reads it; dates are
    written as dates, booleans as true/false, decimals in full precision
    (the shortest text that reads back as the same double).  Written by
    Arrow's CSV writer, which quotes every text (an empty one is NULL
    already), several times faster than ``DataFrame.to_csv``.
    """
    # Imported here: only a PostgreSQL load writes CSV.
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for start in range(0, len(rows), COPY_CHUNK_ROWS):
        block = rows.iloc[start : start + COPY_CHUNK_ROWS]
        columns = {}
        for name in block.columns:
            array = pa.array(block[name], from_pandas=True)
            if pa.types.is_timestamp(array.type):
                array = pc.cast(array, pa.date32(), safe=False)
            elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                array = pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
            columns[name] = array
        buffer = pa.BufferOutputStream()
        pacsv.write_csv(pa.table(columns), buffer, options)
        yield buffer.getvalue().to_pybytes()


def _records(rows: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """The rows as dicts of Python values (None for blanks) for executemany."""
    columns: dict[str, list[Any]] = {}
    for name in rows.columns:
        series = rows[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            values: list[Any] = [None if pd.isna(v) else v.date() for v in series]
        else:
            values = [None if pd.isna(v) else _python(v) for v in series.astype(object)]
        columns[name] = values
    names = list(columns)
    for row in zip(*columns.values(), strict=True):
        yield dict(zip(names, row, strict=True))


def _python(value: Any) -> Any:
    """A numpy scalar as the Python value the DBAPI expects; blank text as None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, date):
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _swap(
    connection: Connection,
    dataset: str,
    la_code: str,
    month: Month,
    stage: sa.Table,
    load_id: str,
    staged: int,
) -> Month | None:
    """Replace the month's rows with the ``staged`` rows of ``stage``.

    Returns, for referrals, the earliest month a replaced or new version
    dates from (referral or authorisation): versions carry referrals and
    assessments of earlier months, whose measures change with them.
    """
    target = DATA_TABLES[dataset]
    rebuild = staged >= REBUILD_MIN_ROWS and _rebuild_indexes(connection, target, stage)
    if rebuild:
        # Taken before the table is read, so this transaction never has to
        # upgrade a weaker lock on it (which could deadlock with another load).
        _lock_exclusively(connection, target)
    of_month = sa.and_(target.c.la_code == la_code, target.c.month == month.start)
    earliest: Month | None = None
    if dataset == "referrals":
        old = _earliest(connection, sa.select(target).where(of_month).subquery())
        new = _earliest(connection, stage)
        earliest = min((m for m in (old, new) if m is not None), default=None)
    connection.execute(sa.delete(target).where(of_month))
    copied = [c.name for c in stage.columns]
    insert = sa.insert(target).from_select(
        ["la_code", "month", "load_id", *copied],
        sa.select(
            sa.literal(la_code, target.c.la_code.type),
            sa.literal(month.start, sa.Date),
            sa.literal(load_id, target.c.load_id.type),
            *(stage.c[name] for name in copied),
        ),
    )
    try:
        if rebuild:
            _drop_indexes(connection, target)
        connection.execute(insert)
        if rebuild:
            _create_indexes(connection, target)
    except sa.exc.IntegrityError as exc:
        # The file's own unique rule should have caught it; say what, not the
        # database's text (it would quote the row's values).
        key = ", ".join(c.name for c in target.primary_key.columns)
        raise LoadError(
            f"two rows of the {dataset} file for {la_code} {month} share a key ({key})"
        ) from exc
    return earliest


def _rebuild_indexes(connection: Connection, target: sa.Table, stage: sa.Table) -> bool:
    """Whether to drop the table's indexes for the insert and build them after.

    PostgreSQL only, and only for a load at least as big as the table it
    goes into (its heap no bigger than the staged rows'): inserting a
    million rows into four B-trees costs many times what sorting them into
    new ones does, and the rebuild, which reads the whole table, then costs
    at most about twice the load's own sort.  Into a bigger table, indexes
    are kept and maintained row by row, so a load never costs what the
    table's history does.
    """
    if not is_postgresql(connection):
        return False
    sizes = sa.text(
        "SELECT pg_relation_size(CAST(:stage AS regclass)), "
        "pg_relation_size(CAST(:target AS regclass))"
    )
    staged, stored = connection.execute(
        sizes, {"stage": _qualified(connection, stage), "target": _qualified(connection, target)}
    ).one()
    return int(stored) <= int(staged)


def _lock_exclusively(connection: Connection, target: sa.Table) -> None:
    """Hold ``target`` alone to the end of the transaction: DROP INDEX would take
    this lock anyway; taking it first also keeps readers off a table whose
    look-ups have no index (they wait for the commit, then see the new month).

    One such load at a time in the warehouse: the measures of a new month
    read every data table, so two of them holding different tables would
    each wait for the other's (a deadlock PostgreSQL ends by failing one).
    """
    advisory_lock(connection, "index rebuild")
    connection.exec_driver_sql(
        f"LOCK TABLE {_qualified(connection, target)} IN ACCESS EXCLUSIVE MODE"
    )
    # The index builds sort in memory rather than in temporary files.
    connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{REBUILD_SORT_MEMORY}'")


def _drop_indexes(connection: Connection, target: sa.Table) -> None:
    connection.execute(sa.schema.DropConstraint(target.primary_key))
    for index in target.indexes:
        connection.execute(sa.schema.DropIndex(index))


def _create_indexes(connection: Connection, target: sa.Table) -> None:
    """The indexes and primary key as the models (and migrations) define them."""
    connection.execute(sa.schema.AddConstraint(target.primary_key))
    for index in target.indexes:
        connection.execute(sa.schema.CreateIndex(index))


def _qualified(connection: Connection, table: sa.Table) -> str:
    """The table's quoted name, in the warehouse schema (temporary tables in theirs)."""
    quote = connection.dialect.identifier_preparer.quote
    schema = table.schema or schema_of(connection)
    return quote(table.name) if schema is None else f"{quote(schema)}.{quote(table.name)}"


def _analyze(connection: Connection, table: sa.Table, staged: int) -> bool:
    """Refresh PostgreSQL's statistics of a table a big load has just changed.

    Without them the planner takes a freshly filled table for a tiny one and
    the measures' look-ups go by the wrong index.  Only a load that is a fair
    part of the table as last counted (:data:`ANALYZE_MIN_FRACTION`) changes
    the picture: a hub's 153 LAs' files would otherwise analyse the table 153
    times a month (7 s of a hub's 100).  ANALYZE runs inside the load's
    transaction; its lock only conflicts with another ANALYZE or VACUUM of
    the same table, so a load skips it while another load holds it.
    Returns whether it ran.
    """
    if not is_postgresql(connection):
        return False
    name = _qualified(connection, table)
    counted = connection.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)"),
        {"table": name},
    ).scalar_one()
    # -1: never analysed (PostgreSQL 14 and later).
    if float(counted) >= 0 and staged < ANALYZE_MIN_FRACTION * float(counted):
        return False
    if not try_advisory_lock(connection, f"analyse {table.name}"):
        # Another load is analysing it, and holds its lock to its commit: an
        # ANALYZE here would wait for that whole load (a hub's processes,
        # each loading many LAs of one dataset, would take turns).  Its
        # statistics, of the same kind of rows, serve this load's too.
        return False
    connection.exec_driver_sql(f"ANALYZE {name}")
    return True


def _earliest(connection: Connection, rows: sa.FromClause) -> Month | None:
    """The month of the earliest referral or authorisation date in ``rows``."""
    first = connection.execute(
        sa.select(sa.func.min(rows.c.referral_date), sa.func.min(rows.c.assessment_authorised_date))
    ).one()
    return _first_month(first)


def _first_month(days: Iterable[Any]) -> Month | None:
    """The month of the earliest of ``days`` (dates, or ISO text from SQLite; None skipped)."""
    found = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days if d]
    return Month.of(min(found)) if found else None


# --- many LAs' files of one dataset and month ------------------------------------------


@dataclass(frozen=True)
class LaFile:
    """One LA's file for :func:`load_months`: what :func:`load_month` takes for it."""

    la_code: str
    frame: pd.DataFrame
    file_name: str
    file_sha256: str
    rows_read: int
    warnings: int = 0
    validation_summary: Mapping[str, Any] | None = None


def batchable(files: Sequence[LaFile]) -> bool:
    """Whether :func:`load_months` takes these files: one per LA, and not so many
    rows that the table's indexes would be rebuilt (:data:`REBUILD_MIN_ROWS`)."""
    las = [f.la_code for f in files]
    return len(set(las)) == len(las) and sum(len(f.frame) for f in files) < REBUILD_MIN_ROWS


def load_months(
    bind: Bind,
    *,
    dataset: str,
    month: Month,
    files: Sequence[LaFile],
    loaded_by: str,
    force: bool = False,
    recompute: bool = True,
) -> list[LoadResult]:
    """What :func:`load_month` does for each file, for many LAs in one transaction.

    A hub's month of one dataset is staged by one COPY, then checked, swapped
    in, recorded and measured by a few statements each, whatever the number
    of LAs.  All or nothing: a file that cannot be
    loaded (:class:`LoadError`) loads none of them, so the caller can load
    them one by one to find it.  The warehouse is the one :func:`load_month`
    leaves, file after file.  ``recompute=False`` leaves the measures to the
    caller (:func:`recompute_after_loads_of`), as the Airflow DAG does.
    """
    if not batchable(files):
        raise ValueError("load_months takes one file per LA, below REBUILD_MIN_ROWS rows in all")
    contract = load_contract(dataset)
    target = DATA_TABLES[dataset]
    with transaction(bind, write=True) as connection:
        # Sorted: two batches of overlapping LAs take their locks in one order.
        for la_code in sorted(f.la_code for f in files):
            _lock(connection, la_code)
        current = _current_loads(connection, dataset, month, [f.la_code for f in files])
        results: dict[str, LoadResult] = {}
        records: list[dict[str, Any]] = []
        changed: list[LaFile] = []
        now = datetime.now(UTC)
        for file in files:
            before = current.get(file.la_code)
            if before is not None and before.file_sha256 == file.file_sha256 and not force:
                record = _record_values(dataset, month, file, loaded_by, now, "unchanged")
                records.append({**record, "duplicate_of": before.load_id})
                results[file.la_code] = LoadResult(record["load_id"], "unchanged", 0)
            else:
                changed.append(file)
        started = time.perf_counter()
        seconds: dict[str, float] = {}
        staged: dict[str, int] = {}
        ids = {f.la_code: str(uuid.uuid4()) for f in changed}
        if changed:
            stage = _batch_staging_table(connection, dataset)
            stage.create(connection)
            prepared = [
                _prepare(f.frame, contract, f.la_code).assign(
                    la_code=f.la_code, load_id=ids[f.la_code]
                )
                for f in changed
            ]
            rows = pd.concat(prepared, ignore_index=True)
            _stage_rows(connection, stage, rows[[c.name for c in stage.columns]])
            staged = _check_staged_by_la(connection, stage, prepared, changed)
            seconds["staged"] = time.perf_counter() - started
            for file in changed:
                # "loading" until the load it replaces is superseded: one
                # current load per month is a unique index.
                record = _record_values(dataset, month, file, loaded_by, now, "loading")
                records.append({**record, "load_id": ids[file.la_code]})
        if records:
            connection.execute(sa.insert(loads), records)
        earliest: dict[str, Month | None] = {}
        if changed:
            superseded = [
                {"old": current[f.la_code].load_id, "new": ids[f.la_code]}
                for f in changed
                if f.la_code in current
            ]
            if superseded:
                connection.execute(
                    sa.update(loads)
                    .where(loads.c.load_id == sa.bindparam("old"))
                    .values(superseded_by=sa.bindparam("new")),
                    superseded,
                )
            connection.execute(
                sa.update(loads)
                .where(loads.c.load_id == sa.bindparam("id"))
                .values(status="loaded", rows_loaded=sa.bindparam("rows")),
                [{"id": ids[la], "rows": staged[la]} for la in ids],
            )
            earliest = _swap_many(connection, dataset, month, stage, list(ids))
            stage.drop(connection)
            seconds["swapped"] = time.perf_counter() - started - sum(seconds.values())
            total = sum(staged.values())
            if total >= ANALYZE_MIN_ROWS and _analyze(connection, target, total):
                seconds["analysed"] = time.perf_counter() - started - sum(seconds.values())
            recomputed: dict[str, list[Month]] = {la: [] for la in ids}
            if recompute:
                recomputed = _recompute_of(
                    connection, dataset, {la: [(month, earliest[la])] for la in ids}
                )
                seconds["measured"] = time.perf_counter() - started - sum(seconds.values())
            for la_code in ids:
                results[la_code] = LoadResult(
                    ids[la_code],
                    "loaded",
                    staged[la_code],
                    superseded=current[la_code].load_id if la_code in current else None,
                    months_recomputed=recomputed[la_code],
                    earliest=earliest[la_code],
                )
            # Where a hub's time goes (counts and seconds only, never values).
            log.info(
                "%s %s, %d LAs at once: %d rows; %s",
                dataset,
                month,
                len(changed),
                sum(staged.values()),
                ", ".join(f"{step} in {value:.2f} s" for step, value in seconds.items()),
            )
        return [results[f.la_code] for f in files]


def _current_loads(
    connection: Connection, dataset: str, month: Month, la_codes: Sequence[str]
) -> dict[str, _Current]:
    query = sa.select(loads.c.la_code, loads.c.load_id, loads.c.file_sha256).where(
        loads.c.dataset == dataset,
        loads.c.month == month.start,
        loads.c.la_code.in_(la_codes),
        CURRENT_LOAD,
    )
    return {
        row.la_code: _Current(row.load_id, row.file_sha256) for row in connection.execute(query)
    }


def _record_values(
    dataset: str, month: Month, file: LaFile, loaded_by: str, when: datetime, status: str
) -> dict[str, Any]:
    """A row of ``loads`` for ``file`` (what :func:`_record` inserts)."""
    return {
        "load_id": str(uuid.uuid4()),
        "dataset": dataset,
        "la_code": file.la_code,
        "month": month.start,
        "file_name": file.file_name,
        "file_sha256": file.file_sha256,
        "status": status,
        "rows_read": file.rows_read,
        "rows_loaded": 0,
        "warnings": file.warnings,
        "validation_summary": dict(file.validation_summary or {}),
        "loaded_by": loaded_by,
        "loaded_at": when,
        "duplicate_of": None,
    }


def _batch_staging_table(connection: Connection, dataset: str) -> sa.Table:
    """:func:`_staging_table` with the LA and the load of each row."""
    return _batch_staging_definition(dataset, "pg_temp" if is_postgresql(connection) else "temp")


@cache
def _batch_staging_definition(dataset: str, schema: str) -> sa.Table:
    target = DATA_TABLES[dataset]
    single = _staging_definition(dataset, schema)
    return sa.Table(
        f"stage_many_{target.name}",
        sa.MetaData(),
        sa.Column("la_code", target.c.la_code.type),
        sa.Column("load_id", target.c.load_id.type),
        *(sa.Column(c.name, c.type) for c in single.columns),
        schema=schema,
        prefixes=["TEMPORARY"],
    )


def _check_staged_by_la(
    connection: Connection,
    stage: sa.Table,
    prepared: Sequence[pd.DataFrame],
    files: Sequence[LaFile],
) -> dict[str, int]:
    """:func:`_check_staged` for each LA of the batch, in one query: rows staged by LA."""
    row = stage.c.source_row
    found = {
        la: (int(count), int(distinct), int(total or 0))
        for la, count, distinct, total in connection.execute(
            sa.select(
                stage.c.la_code, sa.func.count(), sa.func.count(sa.distinct(row)), sa.func.sum(row)
            ).group_by(stage.c.la_code)
        )
    }
    return {
        file.la_code: _same_rows(file.file_name, rows, found.get(file.la_code, (0, 0, 0)))
        for file, rows in zip(files, prepared, strict=True)
    }


def _swap_many(
    connection: Connection, dataset: str, month: Month, stage: sa.Table, la_codes: list[str]
) -> dict[str, Month | None]:
    """:func:`_swap` for many LAs: their month's rows replaced by the staged ones.

    Returns, for referrals, each LA's earliest month touched (else None each).
    """
    target = DATA_TABLES[dataset]
    of_month = sa.and_(target.c.la_code.in_(la_codes), target.c.month == month.start)
    earliest: dict[str, Month | None] = dict.fromkeys(la_codes)
    if dataset == "referrals":
        old = sa.select(
            target.c.la_code, target.c.referral_date, target.c.assessment_authorised_date
        )
        for rows in (old.where(of_month).subquery(), stage):
            for la_code, first in _earliest_by_la(connection, rows).items():
                had = earliest[la_code]
                earliest[la_code] = first if had is None else min(had, first)
    connection.execute(sa.delete(target).where(of_month))
    copied = [c.name for c in stage.columns if c.name not in ("la_code", "load_id")]
    insert = sa.insert(target).from_select(
        ["la_code", "month", "load_id", *copied],
        sa.select(
            stage.c.la_code,
            sa.literal(month.start, sa.Date),
            stage.c.load_id,
            *(stage.c[name] for name in copied),
        ),
    )
    try:
        connection.execute(insert)
    except sa.exc.IntegrityError as exc:
        key = ", ".join(c.name for c in target.primary_key.columns)
        raise LoadError(
            f"two rows of one of the {dataset} files for {month} share a key ({key})"
        ) from exc
    return earliest


def _earliest_by_la(connection: Connection, rows: sa.FromClause) -> dict[str, Month]:
    """:func:`_earliest` of each LA in ``rows`` that has a date."""
    query = sa.select(
        rows.c.la_code,
        sa.func.min(rows.c.referral_date),
        sa.func.min(rows.c.assessment_authorised_date),
    ).group_by(rows.c.la_code)
    found = {}
    for la_code, *first in connection.execute(query):
        month = _first_month(first)
        if month is not None:
            found[la_code] = month
    return found
