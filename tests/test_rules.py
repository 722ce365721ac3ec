"""Every hard rule of EXTRACTS.md rejects a file that breaks it, naming rule, column, rows.

One small bad file per rule: a valid row (conftest.VALID_ROWS) with one field
changed, so the only problem is the one under test.  Both ends of each bound
are tested, because a bound that is never applied is the classic slip.
"""

from __future__ import annotations

import pytest

from etl.contracts import Severity, load_contract
from etl.reader import read_extract
from etl.validation import validate
from tests.conftest import WriteExtract, row

# (id, dataset, rows, expected rule, expected column, expected rows)
BAD_FILES = [
    (
        "la_code_in_content",
        "workforce",
        [row("workforce", la_code="331")],
        "la_code_matches_file",
        "la_code",
        (2,),
    ),
    (
        "la_code_not_3_digits",
        "referrals",
        [row("referrals", la_code="33")],
        "pattern",
        "la_code",
        (2,),
    ),
    (
        "snapshot_not_month_end",
        "workforce",
        [row("workforce", snapshot_date="2024-02-28")],
        "snapshot_is_month_end",
        "snapshot_date",
        (2,),
    ),
    (
        "bad_record_type",
        "workforce",
        [row("workforce", record_type="contractor")],
        "code",
        "record_type",
        (2,),
    ),
    ("org_role_7", "workforce", [row("workforce", org_role="7")], "code", "org_role", (2,)),
    ("org_role_0", "workforce", [row("workforce", org_role="0")], "code", "org_role", (2,)),
    ("fte_zero", "workforce", [row("workforce", fte="0")], "range", "fte", (2,)),
    ("fte_over_one", "workforce", [row("workforce", fte="1.01")], "range", "fte", (2,)),
    ("fte_text", "workforce", [row("workforce", fte="full")], "number", "fte", (2,)),
    (
        "worker_id_pattern",
        "workforce",
        [row("workforce", worker_id="SW123")],
        "pattern",
        "worker_id",
        (2,),
    ),
    (
        "worker_id_missing",
        "workforce",
        [row("workforce", worker_id="")],
        "required",
        "worker_id",
        (2,),
    ),
    (
        "worker_id_on_vacancy",
        "workforce",
        [
            row(
                "workforce",
                record_type="vacancy",
                agency_worker="",
                covered_by_agency="true",
                start_date="",
                caseload="",
            )
        ],
        "must_be_blank",
        "worker_id",
        (2,),
    ),
    (
        "covered_by_agency_missing",
        "workforce",
        [
            row(
                "workforce",
                record_type="vacancy",
                worker_id="",
                agency_worker="",
                start_date="",
                caseload="",
            )
        ],
        "required",
        "covered_by_agency",
        (2,),
    ),
    (
        "covered_by_agency_on_worker",
        "workforce",
        [row("workforce", covered_by_agency="true")],
        "must_be_blank",
        "covered_by_agency",
        (2,),
    ),
    (
        "start_after_snapshot",
        "workforce",
        [row("workforce", start_date="2024-03-01")],
        "start_not_after_snapshot",
        "start_date",
        (2,),
    ),
    (
        "start_missing",
        "workforce",
        [row("workforce", start_date="")],
        "required",
        "start_date",
        (2,),
    ),
    (
        "leaver_end_before_month",
        "workforce",
        [
            row(
                "workforce",
                record_type="leaver",
                end_date="2024-01-31",
                reason_leave="1",
                caseload="",
            )
        ],
        "end_date_in_month",
        "end_date",
        (2,),
    ),
    (
        "leaver_end_after_month",
        "workforce",
        [
            row(
                "workforce",
                record_type="leaver",
                end_date="2024-03-01",
                reason_leave="1",
                caseload="",
            )
        ],
        "end_date_in_month",
        "end_date",
        (2,),
    ),
    (
        "leaver_end_before_start",
        "workforce",
        [
            row(
                "workforce",
                record_type="leaver",
                start_date="2024-02-20",
                end_date="2024-02-10",
                reason_leave="1",
                caseload="",
            )
        ],
        "end_not_before_start",
        "end_date",
        (2,),
    ),
    (
        "leaver_without_reason",
        "workforce",
        [row("workforce", record_type="leaver", end_date="2024-02-10", caseload="")],
        "required",
        "reason_leave",
        (2,),
    ),
    (
        "reason_leave_11",
        "workforce",
        [
            row(
                "workforce",
                record_type="leaver",
                end_date="2024-02-10",
                reason_leave="11",
                caseload="",
            )
        ],
        "code",
        "reason_leave",
        (2,),
    ),
    (
        "caseload_missing_for_case_holder",
        "workforce",
        [row("workforce", caseload="")],
        "required",
        "caseload",
        (2,),
    ),
    (
        "caseload_negative",
        "workforce",
        [row("workforce", caseload="-1")],
        "range",
        "caseload",
        (2,),
    ),
    (
        "caseload_12_5",
        "workforce",
        [row("workforce", caseload="12.5")],
        "integer",
        "caseload",
        (2,),
    ),
    (
        "days_lost_negative",
        "workforce",
        [row("workforce", working_days_lost="-0.5")],
        "range",
        "working_days_lost",
        (2,),
    ),
    (
        "duplicate_worker_id",
        "workforce",
        [row("workforce"), row("workforce", post_id="P002")],
        "worker_id_unique",
        "worker_id",
        (2, 3),
    ),
    (
        "duplicate_vacancy_post",
        "workforce",
        [
            row(
                "workforce",
                record_type="vacancy",
                worker_id="",
                agency_worker="",
                covered_by_agency="false",
                start_date="",
                caseload="",
            )
        ]
        * 2,
        "vacancy_post_unique",
        "post_id",
        (2, 3),
    ),
    ("team_too_long", "workforce", [row("workforce", team="T" * 101)], "max_length", "team", (2,)),
    (
        "duplicate_referral_id",
        "referrals",
        [row("referrals"), row("referrals", child_id="CH2")],
        "referral_id_unique",
        "referral_id",
        (2, 3),
    ),
    (
        "referral_after_month",
        "referrals",
        [
            row(
                "referrals",
                referral_date="2024-03-01",
                assessment_start_date="",
                assessment_authorised_date="",
            )
        ],
        "referral_not_after_month",
        "referral_date",
        (2,),
    ),
    (
        "bad_referral_source",
        "referrals",
        [row("referrals", referral_source="11")],
        "code",
        "referral_source",
        (2,),
    ),
    (
        "primary_need_missing",
        "referrals",
        [row("referrals", primary_need="")],
        "required",
        "primary_need",
        (2,),
    ),
    (
        "primary_need_n10",
        "referrals",
        [row("referrals", primary_need="N10")],
        "code",
        "primary_need",
        (2,),
    ),
    ("nfa_missing", "referrals", [row("referrals", nfa="")], "required", "nfa", (2,)),
    ("nfa_not_boolean", "referrals", [row("referrals", nfa="maybe")], "boolean", "nfa", (2,)),
    ("bad_sex", "referrals", [row("referrals", sex="X")], "code", "sex", (2,)),
    ("bad_ethnicity", "referrals", [row("referrals", ethnicity="WXYZ")], "code", "ethnicity", (2,)),
    (
        "assessment_before_referral",
        "referrals",
        [row("referrals", assessment_start_date="2024-02-04")],
        "assessment_start_not_before_referral",
        "assessment_start_date",
        (2,),
    ),
    (
        "authorised_without_start",
        "referrals",
        [row("referrals", assessment_start_date="")],
        "authorised_needs_start",
        "assessment_authorised_date",
        (2,),
    ),
    (
        "authorised_before_start",
        "referrals",
        [row("referrals", assessment_authorised_date="2024-02-05")],
        "authorised_not_before_start",
        "assessment_authorised_date",
        (2,),
    ),
    (
        "authorised_after_month",
        "referrals",
        [row("referrals", assessment_authorised_date="2024-03-01")],
        "authorised_not_after_month",
        "assessment_authorised_date",
        (2,),
    ),
    (
        "unparseable_date",
        "referrals",
        [row("referrals", referral_date="5th Feb 2024")],
        "date_format",
        "referral_date",
        (2,),
    ),
    (
        "impossible_date",
        "referrals",
        [row("referrals", date_of_birth="2015-02-30")],
        "date_format",
        "date_of_birth",
        (2,),
    ),
    (
        "us_date",
        "referrals",
        [row("referrals", referral_date="02/13/2024")],
        "date_format",
        "referral_date",
        (2,),
    ),
    (
        "closure_before_month",
        "closures",
        [row("closures", closure_date="2024-01-31")],
        "closure_date_in_month",
        "closure_date",
        (2,),
    ),
    (
        "closure_after_month",
        "closures",
        [row("closures", closure_date="2024-03-01")],
        "closure_date_in_month",
        "closure_date",
        (2,),
    ),
    (
        "closure_before_referral",
        "closures",
        [row("closures", referral_date="2024-02-13", closure_date="2024-02-12")],
        "closure_not_before_referral",
        "closure_date",
        (2,),
    ),
    (
        "bad_closure_reason",
        "closures",
        [row("closures", closure_reason="RC10")],
        "code",
        "closure_reason",
        (2,),
    ),
    (
        "capacity_closure_missing",
        "closures",
        [row("closures", capacity_closure="")],
        "required",
        "capacity_closure",
        (2,),
    ),
    (
        "duplicate_closure_referral",
        "closures",
        [row("closures"), row("closures")],
        "referral_id_unique",
        "referral_id",
        (2, 3),
    ),
]


# Cases whose one bad value necessarily breaks a second rule too.
ALSO_BROKEN = {
    # "33" is not 3 digits, and so cannot equal the file name's "330" either.
    "la_code_not_3_digits": [("la_code_matches_file", "la_code", (2,))],
}


#: Parametrises a test over the corpus (also used by the ingestion tests).
each_bad_file = pytest.mark.parametrize(
    ("dataset", "rows", "rule", "column", "bad_rows"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)


@each_bad_file
def test_bad_file_is_rejected_naming_rule_column_rows(
    request: pytest.FixtureRequest,
    write_extract: WriteExtract,
    dataset: str,
    rows: list[dict[str, str]],
    rule: str,
    column: str,
    bad_rows: tuple[int, ...],
) -> None:
    path = write_extract(dataset, rows)
    problems = validate(read_extract(path))
    errors = [p for p in problems if p.severity is Severity.ERROR]
    expected = [(rule, column, bad_rows), *ALSO_BROKEN.get(request.node.callspec.id, [])]
    assert sorted((p.rule, p.column, p.rows) for p in errors) == sorted(expected)
    text = errors[0].describe()
    assert path.name in text and rule in text and column in text


def test_every_contract_rule_has_a_bad_file() -> None:
    """No hard rule of the contracts goes untested by the corpus above."""
    covered = {case[3] for case in BAD_FILES}
    for dataset in ("workforce", "referrals", "closures"):
        for rule in load_contract(dataset).rules:
            if rule.severity is Severity.ERROR:
                assert rule.id in covered, f"{dataset}: no bad file for rule {rule.id}"


@pytest.mark.parametrize("dataset", ["workforce", "referrals", "closures"])
def test_valid_rows_pass(write_extract: WriteExtract, dataset: str) -> None:
    assert validate(read_extract(write_extract(dataset))) == []


def test_bounds_hold_at_both_edges(write_extract: WriteExtract) -> None:
    """fte = 1 and caseload = 0 are allowed; the upper date bounds are inclusive."""
    path = write_extract(
        "workforce", [row("workforce", fte="1", caseload="0", start_date="2024-02-29")]
    )
    assert validate(read_extract(path)) == []
    path = write_extract(
        "referrals",
        [
            row(
                "referrals",
                referral_date="2024-02-29",
                assessment_start_date="2024-02-29",
                assessment_authorised_date="2024-02-29",
            )
        ],
    )
    assert validate(read_extract(path)) == []
    path = write_extract(
        "closures", [row("closures", referral_date="2024-02-01", closure_date="2024-02-01")]
    )
    assert validate(read_extract(path)) == []


def test_capacity_closure_with_other_reason_is_a_warning(write_extract: WriteExtract) -> None:
    path = write_extract(
        "closures", [row("closures", capacity_closure="true", closure_reason="RC8")]
    )
    problems = validate(read_extract(path))
    assert [(p.rule, p.severity) for p in problems] == [
        ("capacity_closure_not_rc7", Severity.WARNING)
    ]


def test_closure_references_are_warnings_against_the_warehouse(
    write_extract: WriteExtract,
) -> None:
    import pandas as pd

    path = write_extract(
        "closures",
        [
            row("closures", referral_id="KNOWN", closure_reason="RC8"),
            row("closures", referral_id="UNKNOWN"),
            row("closures", referral_id="NOASSESS", closure_reason="RC9"),
        ],
    )
    known = pd.DataFrame(
        {
            "referral_id": ["KNOWN", "NOASSESS"],
            "assessment_start_date": [pd.Timestamp("2023-11-03"), pd.NaT],
        }
    )
    problems = validate(read_extract(path), references={"referrals": known})
    assert [(p.rule, p.severity, p.rows) for p in problems] == [
        ("closure_referral_known", Severity.WARNING, (3,)),
        ("rc8_rc9_without_assessment", Severity.WARNING, (4,)),
    ]


def test_identifier_values_never_appear_in_messages(write_extract: WriteExtract) -> None:
    path = write_extract("workforce", [row("workforce", worker_id="SECRET99")])
    problems = validate(read_extract(path))
    assert problems and all("SECRET99" not in p.describe() for p in problems)
    assert all("SECRET99" not in str(p.to_record()) for p in problems)


def test_bad_values_are_not_also_reported_as_missing(write_extract: WriteExtract) -> None:
    path = write_extract("closures", [row("closures", closure_date="31-02-2024")])
    problems = validate(read_extract(path))
    assert [(p.rule, p.column) for p in problems] == [("date_format", "closure_date")]


def test_many_bad_rows_are_counted_and_listed_briefly(write_extract: WriteExtract) -> None:
    rows = [row("referrals", referral_id=f"R{i}", sex="Q") for i in range(25)]
    (problem,) = validate(read_extract(write_extract("referrals", rows)))
    assert problem.count == 25 and problem.rows == tuple(range(2, 27))
    assert "rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 15 more" in problem.describe()
