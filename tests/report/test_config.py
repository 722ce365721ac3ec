"""The pack configuration, the measure catalogue and England's figures, as shipped and as edited."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from etl.errors import ConfigError
from etl.kpis import registry
from etl.months import Month
from etl.report.config import CONFIG_ENV, Rag, Target, config_path, load_pack_config
from etl.report.yamlfile import packaged
from etl.warehouse.measures import KPI_IDS


def test_embedded_configuration() -> None:
    config = load_pack_config()
    assert config.sender == "csc-pipeline@example.gov.uk"
    assert config.data_engineers == ["csc-data-engineering@example.gov.uk"]
    assert config.approved_domains == ["example.gov.uk"]
    assert config.recipients() == [
        "commissioner@example.gov.uk",
        "dcs@example.gov.uk",
        "improvement-board@example.gov.uk",
    ]
    assert config.unapproved_recipients() == []
    audiences = {a.name: a.suppress_small_numbers for a in config.audiences}
    assert audiences == {"commissioner": False, "partnership": True}
    assert config.plan.start_month == Month(2022, 4)
    assert config.targets["vacancy_rate"].at(6) == 0.25
    assert config.targets["vacancy_rate"].at(24) == 0.15


def _write(tmp_path: Path, change: dict[str, object] | None = None, drop: str = "") -> Path:
    data = yaml.safe_load(packaged("pack.yml").read_text(encoding="utf-8"))
    data.update(change or {})
    data.pop(drop, None)
    path = tmp_path / "pack.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_environment_variable_points_at_an_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, {"sender": "pack@council.gov.uk"})
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert config_path() == path
    assert load_pack_config().sender == "pack@council.gov.uk"
    monkeypatch.delenv(CONFIG_ENV)
    assert load_pack_config().sender == "csc-pipeline@example.gov.uk"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"deadline_day": 10}, "deadline_day: unknown key"),
        ({"data_engineers": ["not an address"]}, "not e-mail addresses"),
        (
            {
                "targets": {
                    "vacancy_rate": {
                        "better": "lower",
                        "amber_within": 0.03,
                        "milestones": [{"by_plan_month": 6, "target": 25}],
                    }
                }
            },
            "a rate is a fraction from 0 to 1 (25% is 0.25), not 25",
        ),
        (
            {
                "targets": {
                    "vacancy_rte": {
                        "better": "lower",
                        "amber_within": 0,
                        "milestones": [{"by_plan_month": 6, "target": 0.2}],
                    }
                }
            },
            "targets for measures not in KPIS.md: ['vacancy_rte']",
        ),
        (
            {
                "targets": {
                    "vacancy_rate": {
                        "better": "lower",
                        "amber_within": 0,
                        "milestones": [
                            {"by_plan_month": 24, "target": 0.2},
                            {"by_plan_month": 6, "target": 0.3},
                        ],
                    }
                }
            },
            "increasing by_plan_month",
        ),
        ({"plan": {"name": "x", "start": "April 2022"}}, "plan.start"),
        ({"council_names": {330: "Somewhere"}}, "council_names"),
        (
            {
                "audiences": [
                    {
                        "name": "a",
                        "title": "A",
                        "recipients": ["a@x.gov.uk"],
                        "suppress_small_numbers": True,
                    }
                ]
                * 2
            },
            "audience names must be unique",
        ),
    ],
)
def test_a_wrong_file_is_one_clear_error(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        load_pack_config(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_pack_config(tmp_path / "nowhere.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("audiences: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_pack_config(bad)


def test_trajectory_between_milestones() -> None:
    target = Target.model_validate(
        {
            "better": "lower",
            "amber_within": 0.03,
            "milestones": [
                {"by_plan_month": 6, "target": 0.25},
                {"by_plan_month": 24, "target": 0.15},
            ],
        }
    )
    assert target.at(1) == 0.25  # the first milestone until it is due
    assert target.at(15) == pytest.approx(0.20)  # half way along the line
    assert target.at(30) == 0.15  # the last one after it
    assert target.rag(0.15, 0.15) is Rag.GREEN
    assert target.rag(0.18, 0.15) is Rag.AMBER  # exactly amber_within over
    assert target.rag(0.181, 0.15) is Rag.RED


def test_higher_is_better_targets() -> None:
    target = Target.model_validate(
        {
            "better": "higher",
            "amber_within": 0.05,
            "milestones": [{"by_plan_month": 1, "target": 0.85}],
        }
    )
    assert target.rag(0.90, 0.85) is Rag.GREEN
    assert target.rag(0.80, 0.85) is Rag.AMBER
    assert target.rag(0.79, 0.85) is Rag.RED


def test_catalogue_covers_every_measure_once() -> None:
    assert set(registry().root) == set(KPI_IDS)
    assert registry()["median_episode_days"].suppress_by == "closures"


def _audiences(*recipients: list[str]) -> dict[str, object]:
    return {
        "audiences": [
            {
                "name": f"a{number}",
                "title": f"Audience {number}",
                "recipients": addresses,
                "suppress_small_numbers": False,
            }
            for number, addresses in enumerate(recipients, 1)
        ]
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _audiences(["dcs@example.gov.uk"], ["board@gmail.com", "ok@example.gov.uk"]),
            "is wrong: audience a2 sends to board@gmail.com, outside approved_domains "
            "(example.gov.uk)",
        ),
        (
            # Every audience is checked, every outsider named; a subdomain is not the domain.
            _audiences(["x@evil.example.gov.uk"], ["y@example.gov.uk.evil.com"]),
            "is wrong: audience a1 sends to x@evil.example.gov.uk; audience a2 sends to "
            "y@example.gov.uk.evil.com, outside approved_domains (example.gov.uk)",
        ),
        (
            {"approved_domains": ["birmingham.gov.uk", "@education.gov.uk"]},
            "is wrong: approved_domains: not mail domains: ['@education.gov.uk']",
        ),
        ({"approved_domains": []}, "is wrong: approved_domains: must list at least 1, not 0"),
    ],
)
def test_recipients_outside_the_approved_domains_refuse_the_file(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        load_pack_config(path)
    assert str(caught.value) == f"CSC_PACK_CONFIG file {path} {message}"


def test_approved_domains_are_required(tmp_path: Path) -> None:
    path = _write(tmp_path, drop="approved_domains")
    with pytest.raises(ConfigError) as caught:
        load_pack_config(path)
    assert str(caught.value) == (
        f"CSC_PACK_CONFIG file {path} is wrong: approved_domains: Field required"
    )


def test_domains_match_whatever_their_case(tmp_path: Path) -> None:
    change = {"approved_domains": ["Example.GOV.uk"], **_audiences(["DCS@example.gov.UK"])}
    config = load_pack_config(_write(tmp_path, change))
    assert config.unapproved_recipients() == []
