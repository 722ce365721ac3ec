"""The pack rendered from the small warehouse: every figure as worked out by hand.

Runs on SQLite and PostgreSQL (the ``pack_engine`` fixture).  The arithmetic
is in tests/report/pack_month.py.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from etl.reference.load import load_shipped
from etl.report.config import PackConfig, load_pack_config
from etl.report.content import gather
from etl.report.publish import NothingToReport, PublishResult, publish_pack
from etl.report.view import View, build_view
from etl.settings import Settings
from etl.warehouse.measures import KPI_CSV_HEADER, KPI_IDS
from tests.report import pack_month, structure
from tests.report.conftest import clear, make_settings
from tests.report.htmltext import measure_rows, read, visible_text
from tests.report.pack_month import (
    EXPECTED,
    EXPECTED_CSV,
    EXPECTED_SUPPRESSED,
    LA,
    MONTH,
    load_small_warehouse,
)
from tests.warehouse.extracts import pseudo


def publish(engine: Engine, settings: Settings, config: PackConfig) -> PublishResult:
    return publish_pack(engine, settings, LA, MONTH, send=False, config=config)


@dataclass(frozen=True)
class Published:
    """The hand-made warehouse's pack, rendered once per backend for the reading tests."""

    result: PublishResult
    settings: Settings
    view: View
    html: str
    partnership: str


@pytest.fixture(scope="module")
def published(
    pack_engine: Engine, tmp_path_factory: pytest.TempPathFactory, gx_dir: Path
) -> Published:
    clear(pack_engine)
    load_small_warehouse(pack_engine)
    # DfE's published statistics, as `csc-pipeline init` loads them.
    load_shipped(pack_engine, loaded_by="test", gx_dir=gx_dir)
    settings = make_settings(tmp_path_factory.mktemp("pack"))
    config = load_pack_config()
    result = publish(pack_engine, settings, config)
    view = build_view(gather(pack_engine, LA, MONTH), config, suppress=False)
    return Published(
        result,
        settings,
        view,
        Path(result.html).read_text(encoding="utf-8"),
        Path(result.audiences[1].html).read_text(encoding="utf-8"),
    )


def test_archive_paths_follow_the_interface(published: Published) -> None:
    result = published.result
    folder = published.settings.reports_dir / "330" / "2024-03"
    assert Path(result.html) == folder / "commissioner-pack.html"
    assert Path(result.kpis_csv) == folder / "kpis.csv"
    assert (folder / "partnership-pack.html").is_file()
    assert [a.outcome for a in result.audiences] == ["not sent", "not sent"]
    assert result.missing == ()


def test_html_figures_are_the_hand_worked_ones(published: Published) -> None:
    rows = measure_rows(published.html)
    for label, expected in EXPECTED.items():
        assert rows[label][0] == expected, label


def test_blank_measures_say_why_never_zero(published: Published) -> None:
    rows = measure_rows(published.html)
    assert rows["Turnover (12 months)"][0] == (
        "not available — workforce files for 2023-04..2024-02 not loaded"
    )
    assert rows["Re-referral rate"][0] == (
        "not available — referrals files for 2023-03..2024-02 not loaded"
    )
    # February: closures loaded (and resubmitted empty), workforce not.
    assert rows["Cases closed"][1] == "0"
    assert rows["Vacancy rate"][1] == "not available — workforce file for 2024-02 not loaded"


def test_kpis_csv_is_exactly_kpis_md(published: Published) -> None:
    with Path(published.result.kpis_csv).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == KPI_CSV_HEADER
    assert [r[2] for r in rows[1:]] == KPI_IDS
    by_id = {r[2]: r for r in rows[1:]}
    for kpi_id, (value, numerator, denominator) in EXPECTED_CSV.items():
        assert by_id[kpi_id] == ["330", "2024-03", kpi_id, value, numerator, denominator], kpi_id
    # Never suppressed, never rounded: the commissioner's figures as stored.
    assert by_id["closures_rc8"][3] == "5"


def test_suppressed_copy_hides_exactly_one_to_five(published: Published) -> None:
    html = published.partnership
    rows = measure_rows(html)
    for label, expected in EXPECTED_SUPPRESSED.items():
        assert rows[label][0] == expected, label
    # The three-month total of 6 shows; March's 5 and January's 1 do not.
    assert "over January 2024 to March 2024" in visible_text(html)
    assert re.search(r"\b6 over January 2024 to March 2024", visible_text(html))
    assert "By month: Jan 2024 c · Feb 2024 0 · Mar 2024 c" in visible_text(html)
    assert "shown as c" in visible_text(html)


def test_unsuppressed_copy_shows_small_numbers(published: Published) -> None:
    text = visible_text(published.html)
    assert "By month: Jan 2024 1 · Feb 2024 0 · Mar 2024 5" in text
    assert "shown as c" not in text


def test_team_breakdown_and_referral_breakdowns(published: Published) -> None:
    rows = {r[0]: r[1:] for r in read(published.html).rows if r}
    # Team, permanent, agency, vacant FTE, vacancy rate, average caseload, over 20.
    assert rows["Assessment North"] == ["1.5", "1.0", "1.0", "40.0%", "20.0", "1"]
    assert rows[pack_month.SCRIPT_TEAM] == ["1.0", "0.0", "0.5", "33.3%", "25.0", "1"]
    assert rows["Police"] == ["2", "50.0%"]
    assert rows["Schools and education"] == ["1", "25.0%"]
    assert rows["N1 abuse or neglect"] == ["2", "66.7%"]  # R2 went no further
    assert rows["N4 family in acute stress"] == ["1", "33.3%"]


def test_headline_tiles_rate_against_the_plan(published: Published, config: PackConfig) -> None:
    """2024-03 is month 24 of the embedded plan: the month-24 milestones are in force."""
    view = published.view
    tiles = {t.kpi_id: t for t in view.tiles}
    assert [t.kpi_id for t in view.tiles] == list(config.targets)
    assert (tiles["vacancy_rate"].rag, tiles["vacancy_rate"].target) == ("red", "Target 15.0%")
    assert tiles["vacancy_rate"].status == "Off target"
    assert tiles["vacancy_rate"].england == "England 18.9% (at 30 September 2023)"
    assert tiles["caseload_over_20"].rag == "green"
    assert tiles["assessment_timeliness"].rag == "green"
    assert tiles["capacity_closures_3m"].rag == "green"  # 6 against 20
    assert (tiles["turnover_rate_12m"].rag, tiles["turnover_rate_12m"].status) == (
        "none",
        "Not rated",
    )
    assert view.plan_month.startswith("month 24 of the plan")


def test_data_quality_appendix_lists_files_warnings_and_resubmissions(
    published: Published,
) -> None:
    text = visible_text(published.html)
    for name in ("workforce_330_2024-03.csv", "referrals_330_2024-03.csv"):
        assert name in text
    # March's closures carry the suite's real warning: 5 RC9 capacity closures.
    assert (
        "capacity_closure_not_rc7 (closure_reason): a capacity closure should have reason RC7"
        " — 5 rows" in text
    )
    # February's closures were resubmitted: both loads are listed, the first replaced.
    assert text.count("closures_330_2024-02.csv") == 2
    assert "replaced by a resubmission loaded" in text
    assert "current (a resubmission)" in text


def test_every_measure_is_defined(published: Published) -> None:
    defined = {r[-1] for r in read(published.html).rows if len(r) == 3}
    assert set(KPI_IDS) <= defined


def test_comparison_names_its_sources_and_the_licence(published: Published) -> None:
    """A pack for March 2024: the workforce at 30 September 2023, CIN to 31 March 2024."""
    text = visible_text(published.html)
    assert "Vacancy rate at 30 September 2023 DfE, Children's social work workforce 2023" in text
    assert (
        "Re-referral rate year to 31 March 2024 DfE, Characteristics of children in need 2024"
        in (text)
    )
    assert (
        'Department for Education, "Children\'s social work workforce", indicators by local' in text
    )
    assert (
        "England, year to 31 March 2024: 621,880 referrals (Department for Education, "
        '"Characteristics of children in need" (table C1: referrals and re-referrals, 2024)).'
    ) in text
    assert "Open Government Licence v3.0" in text


def test_how_we_compare_sets_birmingham_beside_its_neighbours(published: Published) -> None:
    """DfE's figures for Birmingham at 30 September 2023 (the shipped release)."""
    rows = {r.key: r for r in published.view.compare.rows}
    vacancy = rows["vacancy_rate"]
    assert (vacancy.la.text, vacancy.england.text, vacancy.period) == (
        "26.7%",
        "18.9%",
        "at 30 September 2023",
    )
    assert vacancy.region_name == "West Midlands"
    assert vacancy.neighbours_n == "10 of 10"
    names = [n.name for n in published.view.compare.neighbours]
    assert names[:3] == ["Nottingham", "Manchester", "Bradford"] and len(names) == 10
    text = visible_text(published.html)
    assert "How we compare" in text and "Nottingham (very close)" in text
    charts = [c for c in published.view.charts if c.key.startswith("compare_")]
    assert [c.key for c in charts] == [
        "compare_vacancy_rate",
        "compare_agency_rate",
        "compare_turnover_rate",
        "compare_average_caseload",
    ]
    assert charts[0].months == tuple(str(y) for y in range(2017, 2024))
    assert "at 30 September 2023: Birmingham 26.7%" in charts[0].alt


def test_benchmarks_csv_is_archived_beside_kpis_csv(published: Published) -> None:
    folder = Path(published.result.kpis_csv).parent
    lines = (folder / "benchmarks.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "la_code,indicator,period,la_value,neighbours_median,neighbours_n,"
        "region_value,england_value,rank,of"
    )
    assert lines[1].startswith("330,vacancy_rate,2023-09-30,0.267,")
    assert len(lines) == 7


def test_team_names_are_escaped(published: Published) -> None:
    for html in (published.html, published.partnership):
        assert "<script" not in html.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert not [tag for tag, _ in read(html).tags if tag == "script"]


def test_no_identifier_reaches_a_pack(published: Published) -> None:
    result = published.result
    outputs = [Path(result.html), Path(result.kpis_csv), Path(result.audiences[1].html)]
    identifiers = [
        *pack_month.CHILDREN,
        *(pseudo(child) for child in pack_month.CHILDREN),
        *pack_month.REFERRAL_IDS,
        *(pseudo(f"SW{post}") for post in ("P1", "P2", "P3", "P4")),
    ]
    for path in outputs:
        content = path.read_text(encoding="utf-8")
        for identifier in identifiers:
            assert identifier not in content, (path.name, identifier)


def test_rerendering_an_unchanged_pack_gives_the_same_files(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    first = Path(publish(small_warehouse, settings, config).html).read_bytes()
    second = Path(publish(small_warehouse, settings, config).html).read_bytes()
    assert first == second
    assert not (settings.reports_dir / "330" / "2024-03" / "superseded").exists()


def test_a_month_with_nothing_loaded_is_refused(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    with pytest.raises(NothingToReport, match="no extract is loaded for LA 330, 2024-04"):
        publish_pack(small_warehouse, settings, LA, MONTH + 1, send=False, config=config)


def test_a_missing_dataset_is_said_at_the_top(
    pack_db: Engine, settings: Settings, config: PackConfig
) -> None:
    pack_month.load_file(pack_db, "closures", MONTH, pack_month.march_closures())
    result = publish(pack_db, settings, config)
    assert result.missing == ("workforce", "referrals")
    text = visible_text(Path(result.html).read_text(encoding="utf-8"))
    assert "No workforce file is loaded for March 2024" in text
    assert "not available — workforce file for 2024-03 not loaded" in text


def test_both_copies_are_structured_for_assistive_technology(published: Published) -> None:
    """Charts in words and in a table, RAG in words, headings in order, tables with
    captions and scoped headers (the rules of tests.report.structure)."""
    titles = [chart.title for chart in published.view.charts]
    assert len(titles) == 9
    for html in (published.html, published.partnership):
        document = structure.parse(html)
        assert structure.chart_problems(document, titles) == []
        assert structure.rag_problems(document) == []
        assert structure.heading_problems(document) == []
        assert structure.table_problems(document) == []


def test_a_chart_table_shows_a_suppressed_month_as_no_figure(published: Published) -> None:
    """Capacity closures 1, 0, 5 from January to March 2024: the partnership's
    chart leaves out the two small months, and its table says so."""
    rows = {r[0]: r[1:] for r in read(published.partnership).rows if len(r) == 4}
    assert [rows[m][0] for m in ("Jan 2024", "Feb 2024", "Mar 2024")] == [
        "no figure",
        "0",
        "no figure",
    ]
    plain = {r[0]: r[1:] for r in read(published.html).rows if len(r) == 4}
    assert [plain[m][0] for m in ("Jan 2024", "Feb 2024", "Mar 2024")] == ["1", "0", "5"]
    assert "“no figure”: not available or not published, or shown as c in this copy." in (
        visible_text(published.partnership)
    )


def test_the_charts_tables_are_not_part_of_the_digest(published: Published) -> None:
    """Only another layout of the charts' figures: adding them sends no correction."""
    view = published.view
    assert view.chart_tables and len(view.chart_tables) == len(view.charts)
    assert replace(view, chart_tables=()).digest() == view.digest()
