"""The kpi_ids are a public interface: exactly KPIS.md's, in its order."""

from __future__ import annotations

import os
import re

import pytest

from etl.months import Month
from etl.warehouse.measures import KPI_CSV_HEADER, KPI_IDS, KPIS, KpiValue
from tests.conftest import SPEC_DIR

KPIS_MD = SPEC_DIR / "KPIS.md"


def _spec_kpi_ids() -> list[str]:
    if not KPIS_MD.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{KPIS_MD} is missing: CI has shared/ beside the clone")
        pytest.skip("shared/spec is not beside this checkout")
    ids: list[str] = []
    in_table = False
    for line in KPIS_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "kpi_id":
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and not set(cells[0]) <= {"-", " "}:
            # "closures_rc1 … closures_rc9" stands for nine ids.
            span = re.fullmatch(r"(\w+?)(\d+) … \1(\d+)", cells[0])
            if span:
                stem, first, last = span.group(1), int(span.group(2)), int(span.group(3))
                ids += [f"{stem}{n}" for n in range(first, last + 1)]
            else:
                ids.append(cells[0])
    return ids


def test_kpi_ids_are_kpis_md() -> None:
    assert _spec_kpi_ids() == KPI_IDS
    assert len(KPI_IDS) == len(set(KPI_IDS)) == 29


def test_windows_match_the_pack_rules() -> None:
    windows = {kpi.kpi_id: kpi.window for kpi in KPIS if kpi.window > 1}
    assert windows == {"turnover_rate_12m": 12, "re_referral_rate": 13, "capacity_closures_3m": 3}


def test_csv_rows() -> None:
    assert KPI_CSV_HEADER == ("la_code", "month", "kpi_id", "value", "numerator", "denominator")
    march = Month(2024, 3)
    rate = KpiValue("330", march, "nfa_rate", 2 / 8, 2.0, 8.0)
    assert rate.csv_row() == ["330", "2024-03", "nfa_rate", "0.25", "2", "8"]
    count = KpiValue("330", march, "referrals", 12.0, None, None)
    assert count.csv_row() == ["330", "2024-03", "referrals", "12", "", ""]
    third = KpiValue("330", march, "agency_rate", 1 / 3, 1.0, 3.0)
    assert third.csv_row()[3] == "0.3333333333333333"  # unrounded
    missing = KpiValue("330", march, "re_referral_rate", None, None, None, "files not loaded")
    assert missing.csv_row()[3:] == ["", "", ""]
