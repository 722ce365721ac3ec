"""The story the sample data tells: a council in intervention, improving over three years.

Every figure the generator steers by lives here, as a start value, an end value and
a shape, so the trajectory can be read (and changed) in one place.  Month index
``t`` counts from the first written month (0); the warm-up months before it
(negative ``t``) hold the starting values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etl.contracts import load_contract

#: Length of the improvement plan the trajectories run over, in months.
PLAN_MONTHS = 36
#: Months simulated (not written) before the first file, so that re-referrals,
#: turnover and open episodes already exist in month 1.
WARM_UP_MONTHS = 12


@dataclass(frozen=True)
class Trajectory:
    """A figure moving from ``start`` to ``end`` over ``over`` months.

    ``shape`` 1 is a straight line; above 1 the figure moves faster early on.
    """

    start: float
    end: float
    shape: float = 1.0
    over: int = PLAN_MONTHS - 1

    def at(self, t: int) -> float:
        done = min(max(t / self.over, 0.0), 1.0)
        return self.start + (self.end - self.start) * (1.0 - float((1.0 - done) ** self.shape))


# --- workforce -----------------------------------------------------------------

VACANCY_RATE = Trajectory(0.277, 0.124)
AGENCY_RATE = Trajectory(0.222, 0.088)
#: Annual permanent turnover; reaches its end early so the 12-month window at
#: month 36 sits on the new level.
TURNOVER = Trajectory(0.19, 0.117, over=28)
#: Cases per fte of a case holder, and their spread between workers.
CASELOAD_MEAN = Trajectory(25.2, 16.9)
CASELOAD_SD = Trajectory(4.6, 2.2)
#: Monthly chance an agency worker's assignment ends and someone else covers.
AGENCY_CHURN = 0.04
#: Posts the improvement plan funds, by month index (about 40 in year one).
NEW_POSTS = (0, 4, 4, 4, 3, 4, 4, 3, 4, 3, 4, 3)

#: Teams and their establishment by CSWW OrgRole.  The en dashes, the typographic
#: apostrophe and the accent are what real team names look like; they are also
#: what makes a Windows-1252 file differ from a UTF-8 one.
TEAMS: tuple[tuple[str, dict[int, int]], ...] = (
    ("Service Leadership", {1: 6, 2: 10}),
    ("Front Door (MASH)", {3: 4, 4: 6, 5: 24, 6: 4}),
    ("Emergency Duty Team", {3: 1, 4: 3, 5: 8}),
    ("Assessment – North", {3: 4, 4: 4, 5: 20, 6: 2}),
    ("Assessment – South", {3: 4, 4: 4, 5: 20, 6: 2}),
    ("Assessment – East", {3: 4, 4: 4, 5: 20, 6: 2}),
    ("Assessment – West", {3: 4, 4: 4, 5: 20, 6: 2}),
    ("Children in Need – North", {3: 3, 4: 3, 5: 17, 6: 2}),
    ("Children in Need – South", {3: 3, 4: 3, 5: 17, 6: 2}),
    ("Children in Need – East", {3: 3, 4: 3, 5: 17, 6: 2}),
    ("Children in Need – West", {3: 3, 4: 3, 5: 17, 6: 2}),
    ("Child Protection – North", {3: 3, 4: 4, 5: 16, 6: 1}),
    ("Child Protection – South", {3: 3, 4: 4, 5: 16, 6: 1}),
    ("Child Protection – East", {3: 3, 4: 4, 5: 16, 6: 1}),
    ("Child Protection – West", {3: 3, 4: 4, 5: 16, 6: 1}),
    ("Disabled Children", {3: 3, 4: 4, 5: 18, 6: 2}),
    ("Children in Care", {3: 3, 4: 4, 5: 20, 6: 1}),
    ("Leaving Care – Café 18+", {3: 2, 4: 3, 5: 14, 6: 4}),
    ("Young People’s Service", {3: 2, 4: 2, 5: 10}),
)
AREAS = ("North", "South", "East", "West")
AREA_WEIGHTS = (0.27, 0.25, 0.26, 0.22)
#: Where the funded posts go, in turn: the front line that was most stretched.
NEW_POST_PLAN: tuple[tuple[str, int], ...] = (
    ("Assessment – North", 5),
    ("Child Protection – South", 5),
    ("Assessment – East", 5),
    ("Child Protection – West", 5),
    ("Assessment – South", 4),
    ("Child Protection – North", 5),
    ("Assessment – West", 5),
    ("Child Protection – East", 4),
    ("Front Door (MASH)", 5),
    ("Assessment – North", 3),
)
#: Share of posts that are part-time, and their fte.
PART_TIME_SHARE = 0.12
PART_TIME_FTE = {0.5: 0.3, 0.6: 0.3, 0.8: 0.4}
#: CSWW ReasonLeave for permanent and agency leavers.
REASON_LEAVE_PERMANENT = {1: 0.62, 2: 0.01, 3: 0.005, 4: 0.02, 5: 0.08, 6: 0.002,
                          7: 0.08, 8: 0.04, 9: 0.10, 10: 0.043}  # fmt: skip
REASON_LEAVE_AGENCY = {8: 0.85, 1: 0.10, 10: 0.05}

# --- referrals -----------------------------------------------------------------

REFERRALS_PER_MONTH = 1360
#: Calendar-month factors: the school holidays in August and Christmas dip.
SEASON = {1: 1.02, 2: 1.00, 3: 1.05, 4: 0.97, 5: 1.02, 6: 1.04,
          7: 1.03, 8: 0.88, 9: 1.03, 10: 1.07, 11: 1.07, 12: 0.89}  # fmt: skip
RE_REFERRAL = Trajectory(0.228, 0.214)
#: Children coming back after more than a year (not re-referrals by definition).
RETURNING = 0.05
NFA = Trajectory(0.085, 0.061)
UNALLOCATED = Trajectory(0.15, 0.03)
#: Share of assessments authorised within 45 working days.
TIMELY = Trajectory(0.70, 0.86)
#: Capacity closures a month (closed because no social worker could be allocated).
CAPACITY_CLOSURES = Trajectory(50.0, 1.0, shape=1.3)

REFERRAL_SOURCE = {
    "1A": 0.045, "1B": 0.01, "1C": 0.01, "1D": 0.015, "2A": 0.20, "2B": 0.015,
    "3A": 0.025, "3B": 0.02, "3C": 0.005, "3D": 0.02, "3E": 0.03, "3F": 0.05,
    "4": 0.025, "5A": 0.04, "5B": 0.025, "5C": 0.025, "5D": 0.01, "6": 0.29,
    "7": 0.02, "8": 0.06, "9": 0.04, "10": 0.02,
}  # fmt: skip
PRIMARY_NEED = {"N0": 0.025, "N1": 0.57, "N2": 0.05, "N3": 0.03, "N4": 0.08,
                "N5": 0.15, "N6": 0.02, "N7": 0.005, "N8": 0.03, "N9": 0.04}  # fmt: skip
SEX = {"M": 0.505, "F": 0.485, "U": 0.01}
#: Close to Birmingham's mix of children.
ETHNICITY = {
    "WBRI": 0.42, "WIRI": 0.005, "WOTH": 0.04, "WIRT": 0.003, "WROM": 0.01,
    "MWBC": 0.06, "MWBA": 0.02, "MWAS": 0.02, "MOTH": 0.03, "AIND": 0.02,
    "APKN": 0.14, "ABAN": 0.03, "AOTH": 0.03, "BCRB": 0.04, "BAFR": 0.06,
    "BOTH": 0.02, "CHNE": 0.003, "OOTH": 0.02, "REFU": 0.005, "NOBT": 0.027,
}  # fmt: skip
#: Age in whole years at referral (CIN: many babies, most 10–15).
AGE = (0.11, 0.055, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05,
       0.055, 0.055, 0.055, 0.055, 0.055, 0.055, 0.055, 0.045)  # fmt: skip
#: Working days from referral to the assessment starting.
START_DELAY = (0.25, 0.30, 0.20, 0.12, 0.07, 0.06)

# --- closures ------------------------------------------------------------------

#: How the episodes of assessed (non-NFA) referrals end; capacity closures are
#: taken out of RC7's share.
CLOSURE_REASON = {"RC1": 0.01, "RC2": 0.003, "RC3": 0.025, "RC4": 0.03, "RC5": 0.05,
                  "RC6": 0.032, "RC7": 0.40, "RC8": 0.30, "RC9": 0.15}  # fmt: skip


def check_codes() -> None:
    """Raise if a weight table names a code its contract does not have."""
    tables: tuple[tuple[str, str, dict[str, float] | dict[int, float]], ...] = (
        ("referrals", "referral_source", REFERRAL_SOURCE),
        ("referrals", "primary_need", PRIMARY_NEED),
        ("referrals", "sex", SEX),
        ("referrals", "ethnicity", ETHNICITY),
        ("closures", "closure_reason", CLOSURE_REASON),
        ("workforce", "reason_leave", REASON_LEAVE_PERMANENT),
        ("workforce", "reason_leave", REASON_LEAVE_AGENCY),
    )
    for dataset, column, weights in tables:
        allowed = {str(c) for c in load_contract(dataset).columns[column].code_values}
        unknown = {str(code) for code in weights} - allowed
        if unknown:
            raise ValueError(f"{dataset}.{column}: codes not in the contract: {sorted(unknown)}")


@dataclass(frozen=True)
class Profile:
    """The figures that size a council and set its rates: the story's, or an LA's own.

    The story above is one such profile (:data:`STORY`); :mod:`etl.sample.sizes`
    builds one from an LA's published figures.  Everything else (mixes of codes,
    delays, seasons) is shared by every profile.
    """

    teams: tuple[tuple[str, dict[int, int]], ...] = TEAMS
    new_posts: tuple[int, ...] = NEW_POSTS
    new_post_plan: tuple[tuple[str, int], ...] = NEW_POST_PLAN
    vacancy_rate: Trajectory = VACANCY_RATE
    agency_rate: Trajectory = AGENCY_RATE
    turnover: Trajectory = TURNOVER
    referrals_per_month: float = REFERRALS_PER_MONTH
    re_referral: Trajectory = RE_REFERRAL
    unallocated: Trajectory = UNALLOCATED
    capacity_closures: Trajectory = field(default=CAPACITY_CLOSURES)


#: The council in intervention the sample data has always told of.
STORY = Profile()
