"""The pack's configuration: the plan's targets, the audiences, who gets alerts.

The embedded default is ``etl/report/pack.yml``; ``CSC_PACK_CONFIG`` names a
deployment's own file.  The models are strict (no unknown keys, no type
coercion), so a typo is refused with the file and the key named
(:class:`~etl.errors.ConfigError`) instead of silently dropping a target.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from etl.filenames import is_la_code
from etl.kpis import registry
from etl.months import Month
from etl.report.yamlfile import packaged, read_model
from etl.warehouse.measures import KPI_IDS

#: The environment variable naming a deployment's pack configuration.
CONFIG_ENV = "CSC_PACK_CONFIG"

_ADDRESS = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"
#: A mail domain as ``approved_domains`` lists it: labels of letters, digits, hyphens.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})+$"
#: How close to a target counts as meeting it (float noise, not policy).
_TOLERANCE = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Rag(StrEnum):
    """Where a measure stands against the plan (tiles say it in words too)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    #: No target in force, or no figure to judge.
    NONE = "none"


class Milestone(_Strict):
    by_plan_month: int = Field(ge=1)
    target: float


class Target(_Strict):
    """A measure's trajectory in the plan, and how far off is amber."""

    better: Literal["lower", "higher"]
    amber_within: float = Field(ge=0)
    milestones: list[Milestone] = Field(min_length=1)

    @model_validator(mode="after")
    def _in_order(self) -> Target:
        months = [m.by_plan_month for m in self.milestones]
        if months != sorted(set(months)):
            raise ValueError("milestones must be in increasing by_plan_month order, no repeats")
        return self

    def at(self, plan_month: int) -> float:
        """The target in force in ``plan_month`` (1 = the plan's first month).

        Straight line between milestones; the first milestone's target before
        it, the last one's after it.
        """
        points = self.milestones
        if plan_month <= points[0].by_plan_month:
            return points[0].target
        for before, after in itertools.pairwise(points):
            if plan_month <= after.by_plan_month:
                share = (plan_month - before.by_plan_month) / (
                    after.by_plan_month - before.by_plan_month
                )
                return before.target + (after.target - before.target) * share
        return points[-1].target

    def rag(self, value: float, target: float) -> Rag:
        """Green when the target is met, amber within ``amber_within`` of it, else red."""
        shortfall = value - target if self.better == "lower" else target - value
        if shortfall <= _TOLERANCE:
            return Rag.GREEN
        if shortfall <= self.amber_within + _TOLERANCE:
            return Rag.AMBER
        return Rag.RED


class Plan(_Strict):
    name: str = Field(min_length=1)
    start: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")

    @property
    def start_month(self) -> Month:
        return Month.parse(self.start)

    def plan_month(self, month: Month) -> int:
        """Month 1 is the plan's start; months before it are 0 or less."""
        return month.months_since(self.start_month) + 1

    def month_of(self, plan_month: int) -> Month:
        return self.start_month + (plan_month - 1)


class SignOff(_Strict):
    """Who must approve an audience's copy before it is sent, and how long they have."""

    #: Airflow user ids allowed to approve (the user name under the simple
    #: auth manager); Airflow refuses anyone else's answer.  The command line's
    #: ``--approved-by`` must be one of them too.
    approvers: list[str] = Field(min_length=1)
    #: Hours the request waits for an answer; then the data engineers are told
    #: and nothing is sent.
    wait_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _named(self) -> SignOff:
        blank = [a for a in self.approvers if not a.strip()]
        if blank:
            raise ValueError("sign_off.approvers: an approver's name cannot be blank")
        return self


class Audience(_Strict):
    """One recipient list and how its copy of the pack is made."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1)
    recipients: list[str] = Field(min_length=1)
    suppress_small_numbers: bool
    #: A regional hub's copy: adds every loaded LA's headline measures and the hub's total.
    hub_table: bool = False
    #: Approval needed before this copy is sent; None: it goes as soon as it is made.
    sign_off: SignOff | None = None

    @model_validator(mode="after")
    def _addresses(self) -> Audience:
        _check_addresses(self.recipients)
        return self


class PackConfig(_Strict):
    """The whole pack configuration (``pack.yml``)."""

    sender: str = Field(pattern=_ADDRESS)
    data_engineers: list[str] = Field(min_length=1)
    #: The only mail domains a pack may go to (each exactly; a subdomain is
    #: listed on its own).  A recipient outside them refuses the whole file.
    approved_domains: list[str] = Field(min_length=1)
    council_names: dict[str, str] = Field(default_factory=dict)
    plan: Plan
    targets: dict[str, Target] = Field(default_factory=dict)
    audiences: list[Audience] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PackConfig:
        _check_addresses(self.data_engineers)
        unknown = [k for k in self.targets if k not in KPI_IDS]
        if unknown:
            raise ValueError(f"targets for measures not in KPIS.md: {unknown}")
        for kpi_id, target in self.targets.items():
            if registry()[kpi_id].unit == "percent":
                wrong = [m.target for m in target.milestones if not 0 <= m.target <= 1]
                if wrong:
                    raise ValueError(
                        f"targets.{kpi_id}: a rate is a fraction from 0 to 1 "
                        f"(25% is 0.25), not {wrong[0]}"
                    )
        names = [a.name for a in self.audiences]
        if len(set(names)) != len(names):
            raise ValueError(f"audience names must be unique: {names}")
        bad_codes = [c for c in self.council_names if not is_la_code(c)]
        if bad_codes:
            raise ValueError(f"council_names keys must be quoted 3-digit LA codes: {bad_codes}")
        bad_domains = [d for d in self.approved_domains if not re.match(_DOMAIN, d, re.IGNORECASE)]
        if bad_domains:
            raise ValueError(f"approved_domains: not mail domains: {bad_domains}")
        outside = self.unapproved_recipients()
        if outside:
            raise ValueError(
                "; ".join(f"audience {name} sends to {address}" for name, address in outside)
                + f", outside approved_domains ({', '.join(self.approved_domains)})"
            )
        return self

    def recipients(self) -> list[str]:
        """Every address a pack goes to, each once, in the order of the audiences."""
        return list(dict.fromkeys(r for audience in self.audiences for r in audience.recipients))

    def unapproved_recipients(self) -> list[tuple[str, str]]:
        """(audience, address) of every recipient outside ``approved_domains``."""
        approved = {d.lower() for d in self.approved_domains}
        return [
            (audience.name, address)
            for audience in self.audiences
            for address in audience.recipients
            if address.rpartition("@")[2].lower() not in approved
        ]

    def council(self, la_code: str, published: str | None = None) -> str:
        """The name configured for the LA, else DfE's (``published``), else "LA 330"."""
        return self.council_names.get(la_code) or published or f"LA {la_code}"

    def audience(self, name: str) -> Audience:
        for audience in self.audiences:
            if audience.name == name:
                return audience
        raise KeyError(name)


def _check_addresses(addresses: list[str]) -> None:
    bad = [a for a in addresses if not re.match(_ADDRESS, a)]
    if bad:
        raise ValueError(f"not e-mail addresses: {bad}")


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The configuration file in force: ``CSC_PACK_CONFIG``, else the embedded one."""
    env = os.environ if env is None else env
    named = env.get("CSC_PACK_CONFIG")  # CONFIG_ENV, spelt out for readers and checks
    return Path(named) if named else packaged("pack.yml")


def load_pack_config(path: Path | str | None = None) -> PackConfig:
    """The pack configuration from ``path`` (default: :func:`config_path`).

    Raises :class:`~etl.errors.ConfigError` when the file is missing,
    unreadable or wrong, naming the file and what is wrong.
    """
    chosen = Path(path) if path is not None else config_path()
    result: PackConfig = read_model(chosen, PackConfig, setting=CONFIG_ENV)
    return result
