"""The sample generator: deterministic, valid under the contracts, telling the story.

Figures are computed straight from the written CSVs with pandas, following the
definitions of KPIS.md, so the test does not trust the generator's own sums.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl.contracts import DATASETS, Column, ColumnType, Condition, Severity, load_contract
from etl.filenames import extract_filename, parse_name
from etl.months import Month, month_range
from etl.sample import MESS_VARIANTS, write_sample
from etl.sample.mess import check_variants, rotation

START = Month(2022, 4)
FULL = 36
SMALL = 4
LA = "330"

# --- runs, generated once per module ----------------------------------------------


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full")
    write_sample(out, la_code=LA, start=START, months=FULL, seed=1)
    return out


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    write_sample(out, start=START, months=SMALL, seed=1)
    return out


@pytest.fixture(scope="module")
def one_month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one")
    write_sample(out, start=START, months=1, seed=1)
    return out


Frames = dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def extracts(full_run: Path) -> Frames:
    """Every file of the full run as text, one frame per dataset, with its ``month``."""
    frames: Frames = {}
    for dataset in DATASETS:
        parts = []
        for path in sorted(full_run.glob(f"{dataset}_*.csv")):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame["month"] = str(parse_name(path).month)
            parts.append(frame)
        frames[dataset] = pd.concat(parts, ignore_index=True)
    return frames


def month_of(frames: Frames, dataset: str, index: int) -> pd.DataFrame:
    return frames[dataset][frames[dataset].month == str(START + index)]


def read_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.where(values != ""), format="%Y-%m-%d", errors="raise")


# --- measures, as KPIS.md defines them --------------------------------------------


def fte(rows: pd.DataFrame) -> float:
    return float(rows.fte.astype(float).sum())


def permanent(workforce: pd.DataFrame) -> pd.DataFrame:
    return workforce[(workforce.record_type == "worker") & (workforce.agency_worker == "false")]


def vacancy_rate(workforce: pd.DataFrame) -> float:
    vacant = fte(workforce[workforce.record_type == "vacancy"])
    return vacant / (vacant + fte(permanent(workforce)))


def agency_rate(workforce: pd.DataFrame) -> float:
    agency = fte(
        workforce[(workforce.record_type == "worker") & (workforce.agency_worker == "true")]
    )
    return agency / (agency + fte(permanent(workforce)))


def average_caseload(workforce: pd.DataFrame) -> float:
    workers = workforce[workforce.record_type == "worker"]
    cases = pd.to_numeric(workers.caseload, errors="coerce")
    holding = workers[cases >= 1]
    return float(cases[cases >= 1].sum()) / fte(holding)


def capacity_closures(closures: pd.DataFrame) -> int:
    return int((closures.capacity_closure == "true").sum())


def referrals_received(referrals: pd.DataFrame, month: Month) -> int:
    return int((referrals.referral_date.str[:7] == str(month)).sum())


# --- 1. determinism ----------------------------------------------------------------


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_same_seed_gives_identical_files(small_run: Path, tmp_path: Path) -> None:
    again = write_sample(tmp_path, start=START, months=SMALL, seed=1)
    assert again == sorted(again)
    assert file_bytes(tmp_path) == file_bytes(small_run)


def test_different_seed_gives_different_files(small_run: Path, tmp_path: Path) -> None:
    write_sample(tmp_path, start=START, months=SMALL, seed=2)
    other, first = file_bytes(tmp_path), file_bytes(small_run)
    assert other.keys() == first.keys()
    assert all(other[name] != first[name] for name in first)


def test_messy_files_are_deterministic_too(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a", start=START, months=2, seed=3, mess=True)
    second = write_sample(tmp_path / "b", start=START, months=2, seed=3, mess=True)
    assert [p.name for p in first] == [p.name for p in second]
    assert any(p.suffix == ".xlsx" for p in first)  # zip timestamps must not leak in
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


# --- 2. names and headers ----------------------------------------------------------


def test_files_are_named_per_contract_with_contract_headers(small_run: Path) -> None:
    expected = sorted(
        extract_filename(dataset, LA, month)
        for dataset in DATASETS
        for month in month_range(START, SMALL)
    )
    assert sorted(path.name for path in small_run.iterdir()) == expected
    for path in small_run.iterdir():
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
        header = data.decode("utf-8").split("\n", 1)[0].split(",")
        assert header == list(load_contract(parse_name(path).dataset).columns)


def test_write_sample_reports_progress_once_a_month(tmp_path: Path) -> None:
    seen: list[Month] = []
    paths = write_sample(tmp_path, start=Month(2023, 1), months=2, progress=seen.append)
    assert seen == [Month(2023, 1), Month(2023, 2)]
    assert len(paths) == 6


# --- 3. the story --------------------------------------------------------------------


def test_first_quarter_capacity_closures(extracts: Frames) -> None:
    total = sum(capacity_closures(month_of(extracts, "closures", i)) for i in range(3))
    assert 120 <= total <= 170


def test_capacity_closures_fade_by_month_36(extracts: Frames) -> None:
    assert capacity_closures(month_of(extracts, "closures", FULL - 1)) < 10


def test_vacancy_rate_starts_high_and_falls(extracts: Frames) -> None:
    first = vacancy_rate(month_of(extracts, "workforce", 0))
    last = vacancy_rate(month_of(extracts, "workforce", FULL - 1))
    assert first > 0.25
    assert last < first - 0.08


def test_agency_covers_most_vacancies_in_month_1(extracts: Frames) -> None:
    vacancies = month_of(extracts, "workforce", 0).query("record_type == 'vacancy'")
    assert fte(vacancies[vacancies.covered_by_agency == "true"]) > fte(vacancies) / 2
    assert 0.18 < agency_rate(month_of(extracts, "workforce", 0)) < 0.26


def test_referrals_per_month(extracts: Frames) -> None:
    for i in range(FULL):
        month = START + i
        assert 1100 <= referrals_received(month_of(extracts, "referrals", i), month) <= 1600


def test_the_service_improves(extracts: Frames) -> None:
    first, last = month_of(extracts, "workforce", 0), month_of(extracts, "workforce", FULL - 1)
    assert agency_rate(last) < agency_rate(first) - 0.08
    assert average_caseload(first) > 22 and average_caseload(last) < 18.5
    for i in (0, FULL - 1):
        closures = len(month_of(extracts, "closures", i))
        assert 1000 <= closures <= 1600


def test_re_referrals_within_a_year(extracts: Frames) -> None:
    # Current state of each referral: its row in the latest file that has it.
    referrals = extracts["referrals"].drop_duplicates("referral_id", keep="last")
    dates = referrals.assign(day=read_dates(referrals.referral_date))
    month = START + (FULL - 1)
    received = dates[dates.referral_date.str[:7] == str(month)]
    pairs = received.merge(dates, on="child_id", suffixes=("", "_before"))
    earlier = pairs[
        (pairs.referral_id != pairs.referral_id_before)
        & (pairs.day_before < pairs.day)
        & (pairs.day_before >= pairs.day - pd.DateOffset(years=1))
    ]
    share = earlier.referral_id.nunique() / len(received)
    assert 0.17 <= share <= 0.27


# --- 4. hard rules -------------------------------------------------------------------


def _condition_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(frame: pd.DataFrame, condition: Condition) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for name, values in condition.items():
        mask &= frame[name].isin([_condition_text(v) for v in values])
    return mask


def _column_failures(frame: pd.DataFrame, column: Column) -> list[str]:
    values = frame[column.name]
    given = values != ""
    checks: dict[str, pd.Series] = {}
    if column.required:
        checks["required"] = ~given
    if column.required_when:
        checks["required_when"] = _matches(frame, column.required_when) & ~given
    if column.blank_when:
        checks["blank_when"] = _matches(frame, column.blank_when) & given
    if column.pattern:
        checks["pattern"] = given & ~values.str.match(column.pattern)
    if column.max_length:
        checks["max_length"] = values.str.len() > column.max_length
    if column.codes:
        checks["codes"] = given & ~values.isin([str(code) for code in column.codes])
    if column.type is ColumnType.DATE:
        checks["iso_date"] = given & ~values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    if column.type is ColumnType.BOOL:
        checks["bool"] = given & ~values.isin(["true", "false"])
    if column.type is ColumnType.INT:
        checks["int"] = given & ~values.str.fullmatch(r"\d+")
    if column.type in (ColumnType.INT, ColumnType.DECIMAL):
        numbers = pd.to_numeric(values.where(given))
        low = numbers <= column.min if column.min_exclusive else numbers < column.min
        checks["min"] = low if column.min is not None else given & False
        checks["max"] = numbers > column.max if column.max is not None else given & False
    return [f"{column.name}: {name}" for name, failing in checks.items() if failing.any()]


_OPS: dict[str, Callable[[pd.Series, object], pd.Series]] = {
    "==": operator.eq,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


def hard_rule_failures(frame: pd.DataFrame, dataset: str) -> list[str]:
    """Every hard rule of the contract, on all of a dataset's files at once (read as text).

    ``frame`` has a ``month`` column naming each row's file: month bounds are
    per row, and uniqueness is within a file.
    """
    contract = load_contract(dataset)
    failures = [f for c in contract.columns.values() for f in _column_failures(frame, c)]
    start = pd.to_datetime(frame.month + "-01", format="%Y-%m-%d")
    end = start + pd.offsets.MonthEnd(0)
    for rule in contract.rules:
        if rule.severity is not Severity.ERROR:
            continue
        scope = _matches(frame, rule.where) if rule.where else pd.Series(True, index=frame.index)
        values = frame[rule.column]
        if rule.kind == "compare":
            left = read_dates(values)
            other = rule.other
            bounds = {"@month_start": start, "@month_end": end}
            right = bounds[other] if other in bounds else read_dates(frame[other])
            compared = _OPS[rule.op](left, right)
            failing = left.notna() & right.notna() & ~compared
        elif rule.kind == "in_month":
            days = read_dates(values)
            failing = days.notna() & ((days < start) | (days > end))
        elif rule.kind == "unique":
            keyed = frame.loc[scope & (values != ""), ["month", rule.column]]
            failing = keyed.duplicated(keep=False)
        elif rule.kind == "requires":
            failing = (values != "") & (frame[rule.other] == "")
        elif rule.kind == "matches_file":
            failing = values != LA
        else:
            pytest.fail(f"hard rule kind {rule.kind!r} is not checked here; add it")
        if bool(failing.any()):
            failures.append(rule.id)
    return failures


def test_every_file_passes_every_hard_rule(extracts: Frames) -> None:
    for dataset, frame in extracts.items():
        assert not hard_rule_failures(frame, dataset), dataset


def test_snapshot_and_closure_dates(extracts: Frames) -> None:
    workforce, closures = extracts["workforce"], extracts["closures"]
    ends = workforce.month.map(lambda m: Month.parse(m).end.isoformat())
    assert (workforce.snapshot_date == ends).all()
    assert (closures.closure_date.str[:7] == closures.month).all()
    assert (closures.closure_date >= closures.referral_date).all()


def test_ids_are_unique_where_the_contract_says(extracts: Frames) -> None:
    workforce = extracts["workforce"]
    workers = workforce[workforce.record_type == "worker"]
    assert not workers.duplicated(["month", "worker_id"]).any()
    vacancies = workforce[workforce.record_type == "vacancy"]
    assert not vacancies.duplicated(["month", "post_id"]).any()
    for dataset in ("referrals", "closures"):
        assert not extracts[dataset].duplicated(["month", "referral_id"]).any()


def test_covered_vacancies_have_their_agency_worker(extracts: Frames) -> None:
    workforce = extracts["workforce"]
    covered = workforce[
        (workforce.record_type == "vacancy") & (workforce.covered_by_agency == "true")
    ]
    agency = workforce[(workforce.record_type == "worker") & (workforce.agency_worker == "true")]
    keys = ["month", "post_id"]
    assert len(covered.merge(agency[keys], on=keys)) == len(covered) == len(agency)


def test_people_stay_until_they_leave(extracts: Frames) -> None:
    workforce = extracts["workforce"]
    for i in range(FULL - 1):
        this, after = month_of(extracts, "workforce", i), month_of(extracts, "workforce", i + 1)
        staying = permanent(this)
        went = set(after.loc[after.record_type == "leaver", "worker_id"])
        still = staying[~staying.worker_id.isin(went)]
        later = permanent(after).set_index("worker_id").post_id
        assert (still.post_id.to_numpy() == later.reindex(still.worker_id).to_numpy()).all()
        gone = set(this.loc[this.record_type == "leaver", "worker_id"])
        assert not gone & set(after.loc[after.record_type == "worker", "worker_id"])
    starters = permanent(workforce)
    new = starters[starters.start_date.str[:7] == starters.month]
    assert len(new) > FULL  # recruitment every month


def test_updates_are_of_the_12_months_before(extracts: Frames) -> None:
    referrals = extracts["referrals"]
    received = referrals.referral_date.str[:7]
    updates = referrals[received != referrals.month]
    assert len(updates) > 0
    assert (received[updates.index] < updates.month).all()
    oldest = updates.month.map(lambda m: str(Month.parse(m) - 12))
    assert (received[updates.index] >= oldest).all()
    # An update carries the authorisation that happened in its month.
    assert (updates.assessment_authorised_date.str[:7] == updates.month).all()


def test_soft_rules_mostly_hold(extracts: Frames) -> None:
    closures, referrals = extracts["closures"], extracts["referrals"]
    capacity = closures[closures.capacity_closure == "true"]
    assert (capacity.closure_reason == "RC7").all()
    # RC8/RC9 closures are of referrals that had an assessment, in the files so far.
    assessed = set(referrals.loc[referrals.assessment_start_date != "", "referral_id"])
    after = closures[closures.closure_reason.isin(["RC8", "RC9"])]
    assert after.referral_id.isin(assessed).mean() > 0.97
    # Closures refer to referrals already written, bar some in the first months.
    first_seen = referrals.groupby("referral_id").month.min()
    seen = first_seen.reindex(closures.referral_id).fillna("never").to_numpy()
    known = pd.Series(seen <= closures.month.to_numpy(), index=closures.index)
    assert known.mean() > 0.95
    assert known[closures.month >= str(START + 12)].mean() > 0.99


# --- 5. messy files -------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a CSV would hold."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


_YES = {"1", "y", "yes", "true"}


def _canonical(column: Column, text: pd.Series) -> pd.Series:
    """One spelling per value: ISO dates, true/false, bare codes, plain numbers."""
    given = text != ""
    if column.type is ColumnType.DATE:
        return text.str.replace(r"^(\d{2})/(\d{2})/(\d{4})$", r"\3-\2-\1", regex=True)
    if column.type is ColumnType.BOOL:
        return text.str.lower().isin(_YES).map({True: "true", False: "false"}).where(given, "")
    if column.type is ColumnType.INT:
        return text.str.replace(r"\.0+$", "", regex=True)
    if column.type is ColumnType.DECIMAL:
        return text.map(lambda v: f"{float(v):g}" if v else v)
    if column.type is ColumnType.CODE:
        return text.str.split(r":| - ", n=1, regex=True).str[0].str.strip()
    return text


def read_back(path: Path) -> pd.DataFrame:
    """A landed file as canonical text, read the way EXTRACTS.md allows."""
    contract = load_contract(parse_name(path).dataset)
    if path.suffix == ".xlsx":
        raw = pd.read_excel(path, dtype=object).map(_cell_text)
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252")
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    raw.columns = [str(name).strip().lower() for name in raw.columns]
    frame = raw[list(contract.columns)].apply(lambda column: column.str.strip())
    frame = frame[(frame != "").any(axis=1)].reset_index(drop=True)
    for name, column in contract.columns.items():
        frame[name] = _canonical(column, frame[name])
    return frame


@pytest.mark.parametrize("variant", list(MESS_VARIANTS))
def test_each_mess_variant_means_the_same_data(
    variant: str, one_month: Path, tmp_path: Path
) -> None:
    for messy in write_sample(tmp_path, start=START, months=1, mess_variants=[variant]):
        clean = one_month / messy.with_suffix(".csv").name
        dataset = parse_name(messy).dataset
        no_int_columns = not any(
            c.type in (ColumnType.INT, ColumnType.DECIMAL)
            for c in load_contract(dataset).columns.values()
        )
        if not (variant == "float_ints" and no_int_columns):
            assert messy.read_bytes() != clean.read_bytes(), f"{variant} left {messy.name} as is"
        pd.testing.assert_frame_equal(read_back(messy), read_back(clean))


def test_rotating_mess_keeps_the_data(small_run: Path, tmp_path: Path) -> None:
    for messy in write_sample(tmp_path, start=START, months=SMALL, mess=True):
        clean = small_run / messy.with_suffix(".csv").name
        pd.testing.assert_frame_equal(read_back(messy), read_back(clean))


def test_rotation_shows_every_variant_to_every_dataset_early() -> None:
    for index in range(len(DATASETS)):
        seen = {name for month in range(SMALL) for name in rotation(index, month)}
        assert seen == set(MESS_VARIANTS)


def test_unknown_or_clashing_variants_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown mess variant"):
        write_sample(tmp_path, months=1, mess_variants=["typos"])
    with pytest.raises(ValueError, match="cannot be combined"):
        check_variants(["xlsx", "cp1252"])
    assert not list(tmp_path.iterdir())
