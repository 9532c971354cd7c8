"""The KPIs' pure core: the facts a jurisdiction's queries gathered in, the rates, the
coverage and the SX targets out — no database."""

from __future__ import annotations

from datetime import date

import pytest

from services.scoring.domain.kpis import (
    DemandTally,
    KpiFacts,
    count_tiers,
    growth,
    incubated,
    kpis_of,
    months_before,
    same_day_a_year_before,
    share,
    tally_demands,
)
from services.scoring.domain.table import targets_of

TARGETS = targets_of({})


def facts(**over) -> KpiFacts:
    return KpiFacts(**{"targets": TARGETS, "demands": DemandTally(), **over})


def test_share_and_growth_are_rounded_and_none_without_a_base():
    assert share(1, 3) == 0.3333 and share(2, 3) == 0.6667
    assert share(0, 0) is None and share(5, 0) is None
    assert growth(4, 3) == 0.3333 and growth(2, 4) == -0.5
    assert growth(3, 0) is None


def test_tally_the_period_s_demand_facts():
    tally = tally_demands(
        [
            ("accepted", "D1", None),
            ("accepted", "D2", None),
            ("closed", "D1", 1),
            ("closed", "D1", 0),  # reclosed late: the last close decides
            ("closed", "D3", None),
            ("solved", "D1", None),
            ("rating", "D1", 4),
            ("rating", "D2", 5),
        ]
    )
    assert tally.count("accepted") == 2 and tally.count("closed") == 2
    assert tally.count("solved") == 1 and tally.count("matched") == 0
    assert (tally.on_time, tally.timed) == (0, 1)  # D1's last close was late; D3's untimed
    assert (tally.rating_sum, tally.ratings) == (9, 2)
    assert "rating" not in tally.counts


def test_nothing_happened_gives_no_rates_but_the_targets():
    k = kpis_of("630102", "2026-11", facts())
    assert (k["jurisdiction"], k["period"]) == ("630102", "2026-11")
    assert k["demands"] == {
        "accepted": 0,
        "closed": 0,
        "solved": 0,
        "closure_rate": None,
        "on_time_rate": None,
        "problem_solving_rate": None,
        "satisfaction": None,
        "ratings": 0,
    }
    sc, sx = k["station_coverage"], k["sx_targets"]
    assert (sc["tech_sme_target"], sc["hitech_candidate_target"]) == (0.15, 0.75)
    assert sc["incubated_share"] is None and sc["incubated_target"] == 0.3333
    assert sx["tech_smes_vs_base"] is None and sx["growth_target"] == 0.2
    assert sx["doubling_target"] == 2.0


def test_the_loop_s_rates():
    tally = tally_demands(
        [("accepted", f"D{i}", None) for i in range(4)]
        + [("closed", "D0", 1), ("closed", "D1", 0), ("closed", "OLD", 1), ("solved", "D0", None)]
        + [("rating", "D0", 5), ("rating", "D1", 4), ("rating", "D2", 4)]
    )
    # D0 and D1 of the four accepted closed by the period's end; OLD was accepted earlier
    d = kpis_of("630102", "2026-11", facts(demands=tally, cohort_closed=2))["demands"]
    assert (d["accepted"], d["closed"], d["solved"]) == (4, 3, 1)
    assert d["closure_rate"] == 0.5  # the cohort: never above 1
    assert d["on_time_rate"] == 0.6667
    assert d["problem_solving_rate"] == 0.3333
    assert (d["satisfaction"], d["ratings"]) == (4.33, 3)


def test_tech_sme_coverage_20_smes_3_served_meets_the_15_percent_target():
    tiers = {f"t{i}": "tech_sme" for i in range(20)} | {"c1": "hitech_candidate", "x": None}
    served = {"t0", "t1", "t2", "c1", "z"}  # z: served, but no tier on record
    k = kpis_of("630102", "2026-11", facts(tiers=count_tiers(tiers, served)))
    sc = k["station_coverage"]
    assert (sc["tech_smes"], sc["tech_smes_served"], sc["tech_sme_coverage"]) == (20, 3, 0.15)
    assert sc["tech_sme_coverage"] >= sc["tech_sme_target"]
    assert (sc["hitech_candidates"], sc["hitech_candidate_coverage"]) == (1, 1.0)


def test_incubated_means_served_in_the_24_months_up_to_certification():
    certified = {"a": date(2026, 11, 10), "b": date(2026, 11, 20), "c": date(2026, 11, 3)}
    served = {
        "a": {"2024-11"},  # 24 months before: incubated
        "b": {"2024-10", "2026-12"},  # 25 months before, and after: not
        "c": {"2026-11"},  # the month of certification: incubated
    }
    assert incubated(certified, served) == {"a", "c"}
    sc = kpis_of("630102", "2026-11", facts(certified=3, incubated=2))["station_coverage"]
    assert (sc["newly_certified_hitech"], sc["incubated"], sc["incubated_share"]) == (3, 2, 0.6667)


@pytest.mark.parametrize(
    "since,month,gap",
    [
        (date(2026, 11, 5), "2026-11", 0),
        (date(2026, 11, 5), "2024-11", 24),
        (date(2026, 1, 31), "2025-12", 1),
        (date(2026, 11, 5), "2026-12", 10**6),
    ],
)
def test_months_before(since, month, gap):
    assert months_before(since, month) == gap


@pytest.mark.parametrize(
    "day,before",
    [
        (date(2026, 11, 30), date(2025, 11, 30)),
        (date(2028, 2, 29), date(2027, 2, 28)),
        (date(2027, 2, 28), date(2026, 2, 28)),
    ],
)
def test_the_same_day_a_year_before(day, before):
    assert same_day_a_year_before(day) == before


def test_sx_counts_vs_the_base_year_and_growth_vs_a_year_before():
    now = {f"t{i}": "tech_sme" for i in range(4)} | {
        "h1": "hitech_enterprise",
        "h2": "little_giant",
    }
    then = {f"t{i}": "tech_sme" for i in range(3)} | {"h1": "hitech_enterprise"}
    targets = targets_of({"targets": {"base_tech_smes": 2, "base_hitech_enterprises": 0}})
    sx = kpis_of(
        "630102",
        "2026-11",
        facts(
            targets=targets,
            tiers=count_tiers(now),
            tiers_year_before=count_tiers(then),
            needs_named_person=2,
            needs_one_plan=1,
        ),
    )["sx_targets"]
    assert (sx["tech_smes"], sx["hitech_enterprises"]) == (4, 2)
    assert (sx["base_tech_smes"], sx["tech_smes_vs_base"]) == (2, 2.0)
    assert sx["hitech_vs_base"] is None  # a base of 0 gives no ratio
    assert (sx["tech_sme_growth"], sx["hitech_growth"]) == (0.3333, 1.0)
    assert (sx["needs_named_person"], sx["needs_one_plan"]) == (2, 1)
