"""Loading DfE releases: the shipped files, a revision, the same file twice, a bad file.

On SQLite and PostgreSQL.  The revision follows what DfE did: the workforce
release of 2024 gave England's 2023 agency rate as 17.8%, the 2025 release
revised it to 17.9%.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.months import Month
from etl.reference import PUBLICATIONS, shipped_file
from etl.reference.benchmarks import benchmarks
from etl.reference.load import load_release, load_shipped
from etl.warehouse.schema import published_figures, reference_loads, statistical_neighbours
from tests.reference.dfe_files import row, write_figures
from tests.warehouse.checksums import table_checksum

TABLES = (published_figures, statistical_neighbours, reference_loads)


def checksums(engine: Engine) -> dict[str, str]:
    return {t.name: table_checksum(engine, t) for t in TABLES}


def figure(engine: Engine, *where: sa.ColumnElement[bool]) -> tuple[float | None, str | None]:
    f = published_figures
    with engine.connect() as connection:
        found = connection.execute(sa.select(f.c.value, f.c.symbol).where(*where)).one()
    return found.value, found.symbol


def test_the_shipped_files_load_once(ref_db: Engine, gx_dir: Path) -> None:
    results = load_shipped(ref_db, loaded_by="test", gx_dir=gx_dir)
    assert [(r.publication, r.status, r.rows) for r in results] == [
        ("csww", "loaded", 1463),
        ("c1", "loaded", 2132),
        ("b1", "loaded", 2132),
        ("sn_model", "loaded", 153),
    ]
    f = published_figures
    birmingham = (f.c.area_code == "330", f.c.geographic_level == "Local authority")
    vacancy = (f.c.publication == "csww", f.c.measure == "vacancy_rate_fte")
    agency = (f.c.publication == "csww", f.c.measure == "agency_rate_fte")
    assert figure(ref_db, *birmingham, *vacancy, f.c.time_period == 2022) == (30.9, None)
    assert figure(ref_db, *birmingham, *vacancy, f.c.time_period == 2025) == (17.1, None)
    # Not available is NULL with DfE's symbol kept, never 0.
    assert figure(ref_db, *birmingham, *agency, f.c.time_period == 2024) == (None, "u")
    with ref_db.connect() as connection:
        loads = connection.execute(sa.select(reference_loads)).all()
    by_name = {r.publication: r for r in loads}
    assert by_name["csww"].periods == "2017-2025"
    assert by_name["c1"].periods == "2013-2025"
    assert by_name["csww"].file_sha256 == _sha256(shipped_file("csww"))
    assert all(r.superseded is None for r in loads)
    # Loaded already: a second init loads nothing.
    before = checksums(ref_db)
    assert load_shipped(ref_db, loaded_by="test", gx_dir=gx_dir) == []
    assert checksums(ref_db) == before
    assert set(by_name) == set(PUBLICATIONS)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _release(path: Path, years: dict[int, str]) -> Path:
    """A workforce release: England's agency rate per year, and LA 330's vacancy rate."""
    rows = []
    for year, agency in years.items():
        rows.append(row(year, "National", values={"agency_rate_fte": agency}))
        rows.append(row(year, "Local authority", "330", {"vacancy_rate_fte": "20"}))
    return write_figures(path, "csww", rows)


def test_a_revised_release_supersedes_the_years_it_repeats(
    ref_db: Engine, files: Path, gx_dir: Path
) -> None:
    first = load_release(
        ref_db,
        _release(files / "csww_2024.csv", {2022: "17.6", 2023: "17.8"}),
        loaded_by="test",
        gx_dir=gx_dir,
    )
    assert first.status == "loaded" and first.periods == "2022-2023"
    england_2023 = _by(benchmarks(ref_db, "330", Month(2024, 3)))["agency_rate"].england_value
    assert england_2023 == 0.178
    second = load_release(
        ref_db,
        _release(files / "csww_2025.csv", {2023: "17.9", 2024: "16.2"}),
        loaded_by="test",
        gx_dir=gx_dir,
    )
    assert second.status == "loaded" and second.periods == "2023-2024"
    assert second.superseded == {first.load_id: [2023]}
    assert _by(benchmarks(ref_db, "330", Month(2024, 3)))["agency_rate"].england_value == 0.179
    # 2022 was not in the new release: the first load's figure stays.
    assert _by(benchmarks(ref_db, "330", Month(2023, 3)))["agency_rate"].england_value == 0.176
    f = published_figures
    with ref_db.connect() as connection:
        owners = dict(
            connection.execute(
                sa.select(f.c.time_period, f.c.load_id)
                .where(f.c.geographic_level == "National", f.c.measure == "agency_rate_fte")
                .order_by(f.c.time_period)
            ).all()
        )
        record = connection.execute(
            sa.select(reference_loads).where(reference_loads.c.load_id == second.load_id)
        ).one()
    assert owners == {2022: first.load_id, 2023: second.load_id, 2024: second.load_id}
    assert record.superseded == [{"load_id": first.load_id, "time_periods": [2023]}]
    assert (record.file_name, record.loaded_by, record.rows_read) == ("csww_2025.csv", "test", 4)


def _by(rows: list) -> dict:  # type: ignore[type-arg]
    return {b.key: b for b in rows}


def test_the_same_file_twice_changes_nothing(ref_db: Engine, files: Path, gx_dir: Path) -> None:
    path = _release(files / "csww.csv", {2024: "16.2"})
    first = load_release(ref_db, path, loaded_by="test", gx_dir=gx_dir)
    before = checksums(ref_db)
    again = load_release(ref_db, path, loaded_by="someone else", gx_dir=gx_dir)
    assert (again.status, again.load_id) == ("unchanged", first.load_id)
    assert checksums(ref_db) == before


def test_a_2026_release_of_the_same_shape_loads_with_no_code_change(
    ref_db: Engine, files: Path, gx_dir: Path
) -> None:
    """DfE's next release: the shipped file with a 2026 year added, under a new name."""
    load_shipped(ref_db, loaded_by="test", gx_dir=gx_dir)
    with shipped_file("csww").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    newer = [{**r, "time_period": "2026"} for r in rows if r["time_period"] == "2025"]
    for r in newer:
        if r["old_la_code"] == "330":
            r["vacancy_rate_fte"] = "12.3"
    path = files / "csww_indicators_2017_to_2026.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([*newer, *rows])
    result = load_release(ref_db, path, loaded_by="test", gx_dir=gx_dir)
    assert (result.status, result.periods) == ("loaded", "2017-2026")
    assert sorted(result.superseded.values()) == [list(range(2017, 2026))]
    vacancy = _by(benchmarks(ref_db, "330", Month(2026, 10)))["vacancy_rate"]
    assert (vacancy.period, vacancy.la_value) == (Month(2026, 9).end, 0.123)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"drop": "caseload_fte"},
            "{name}: error: rule missing_column, column caseload_fte: the Children's social "
            "work workforce file has no caseload_fte column",
        ),
        (
            {"row": 3, "column": "geographic_level", "value": "County"},
            "{name}: error: rule geographic_level, column geographic_level, row 3: the "
            "geographic level is not one of National, Regional, Local authority (e.g. 'County')",
        ),
        (
            {"row": 4, "column": "vacancy_rate_fte", "value": "twelve"},
            "{name}: error: rule value, column vacancy_rate_fte, row 4: a value is neither a "
            "number nor one of DfE's symbols (c, u, x, z, low, k) (e.g. 'twelve')",
        ),
        (
            {"row": 2, "column": "time_period", "value": "2024/25"},
            "{name}: error: rule time_period, column time_period, row 2: the time period is "
            "not a year (YYYY)",
        ),
        (
            {"row": 3, "column": "old_la_code", "value": "33"},
            "{name}: error: rule la_code, column old_la_code, row 3: a local authority row "
            "needs a 3-digit old_la_code (or codes joined by ' / ')",
        ),
    ],
)
def test_a_malformed_release_is_rejected_naming_file_rule_column_and_rows(
    ref_db: Engine, files: Path, gx_dir: Path, change: dict[str, object], expected: str
) -> None:
    good = _release(files / "good.csv", {2024: "16.2"})
    load_release(ref_db, good, loaded_by="test", gx_dir=gx_dir)
    before = checksums(ref_db)
    with good.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    # Rows 2 and 3 as written: England 2024, then LA 330 2024; LA 331 is row 4.
    rows.append({**rows[-1], "old_la_code": "331"})
    if "drop" in change:
        header.remove(str(change["drop"]))
        rows = [{k: v for k, v in r.items() if k in header} for r in rows]
    else:
        rows[int(str(change["row"])) - 2][str(change["column"])] = str(change["value"])
    bad = files / "bad_release.csv"
    with bad.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    result = load_release(ref_db, bad, loaded_by="test", gx_dir=gx_dir)
    assert result.status == "rejected"
    assert [p.describe() for p in result.problems] == [expected.format(name=bad.name)]
    assert checksums(ref_db) == before


def test_a_file_of_no_known_publication_is_rejected(
    ref_db: Engine, files: Path, gx_dir: Path
) -> None:
    path = files / "other.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    result = load_release(ref_db, path, loaded_by="test", gx_dir=gx_dir)
    assert result.status == "rejected"
    assert result.problems[0].rule == "unknown_publication"
    assert "other.csv" in result.problems[0].describe()
