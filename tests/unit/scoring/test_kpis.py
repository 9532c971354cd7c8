"""A jurisdiction's KPIs (``services.scoring.kpis``) with concrete numbers, computed from scoring's
own (SQLite) tables fed through the real consumers: the loop's rates (a closure-rate
cohort, on time, problem solving, satisfaction), station coverage (CX 第十二条) and the
SX targets (vs the base year, annual growth, the "两清零" counts)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime

import pytest

from services.scoring import handlers as h
from services.scoring.domain.table import default_rule_set
from services.scoring.kpis import kpis as jurisdiction_kpis
from services.scoring.models import rule_sets
from services.scoring.rulesets import publish_rule_set
from services.scoring.schemas import KpiArgs
from shared.auth import Principal
from shared.errors import status_of
from shared.events import make_event
from shared.timezone import china_today
from shared.usecases import DomainError, Forbidden
from tests.factories import accepted_payload

J = "630102"  # 城东区
SIBLING = "630103"  # 城中区, the same city
ADMIN = Principal(key_id="k", name="t", role="admin", jurisdiction="630000")


def utc(y: int, mo: int, d: int, hour: int = 2) -> datetime:
    return datetime(y, mo, d, hour, tzinfo=UTC)


def cc(n: int, jurisdiction: str = J) -> str:
    """An 18-character unified social credit code."""
    return f"91{jurisdiction}MA{n:08d}"


HANDLER = {
    "demand.accepted": h.on_demand_accepted,
    "demand.status_changed": h.on_demand_status_changed,
    "demand.revisited": h.on_demand_revisited,
    "visit.logged": h.on_visit_logged,
    "enterprise.registered": h.on_enterprise,
    "enterprise.updated": h.on_enterprise,
}


def feed(svc, *events) -> None:
    for e in events:
        handler = HANDLER[e.event_type]
        assert svc.inbox.apply(svc.uow, f"scoring.{handler.__name__}", e, handler)


def ev(event_type, producer, payload, *, jurisdiction=J, occurred_at=None, event_id=None):
    e = make_event(event_type, 1, producer=producer, jurisdiction=jurisdiction, payload=payload)
    changes = {}
    if occurred_at is not None:
        changes["occurred_at"] = occurred_at
    if event_id is not None:
        changes["event_id"] = event_id
    return dataclasses.replace(e, **changes) if changes else e


# --- demand events ------------------------------------------------------------------------


def accepted(code, when, *, credit=None, jurisdiction=J):
    return ev(
        "demand.accepted",
        "intake",
        accepted_payload(
            demand_code=code,
            enterprise={"credit_code": credit or cc(999, jurisdiction), "name": "e"},
            accepted_at=when.isoformat(),
        ),
        jurisdiction=jurisdiction,
    )


def closed(code, when, *, on_time=True, resolution="solved", frm="feedback", jurisdiction=J):
    return ev(
        "demand.status_changed",
        "intake",
        {
            "demand_code": code,
            "from_status": frm,
            "to_status": "closed",
            "note": "n",
            "resolution": resolution,
            "actor": "k",
            "at": when.isoformat(),
            "category": "technology",
            "on_time": on_time,
        },
        jurisdiction=jurisdiction,
    )


def reopened(code, when):
    return ev(
        "demand.status_changed",
        "intake",
        {
            "demand_code": code,
            "from_status": "closed",
            "to_status": "in_progress",
            "note": "n",
            "resolution": None,
            "actor": "k",
            "at": when.isoformat(),
            "category": "technology",
            "on_time": None,
        },
    )


def revisited(code, rating, when, *, jurisdiction=J):
    return ev(
        "demand.revisited",
        "intake",
        {
            "demand_code": code,
            "rating": rating,
            "comment": "",
            "reopened": False,
            "actor": "k",
            "at": when.isoformat(),
        },
        jurisdiction=jurisdiction,
    )


def visit(on: str, *credits: str, jurisdiction=J):
    return ev(
        "visit.logged",
        "visits",
        {
            "visit_id": str(uuid.uuid4()),
            "version": 1,
            "staff_id": "s-1",
            "staff_name": "陈静",
            "department_id": "cd-kjj",
            "department_name": "城东区科学技术局",
            "team_id": None,
            "enterprises": [
                {"credit_code": c, "name": "e", "jurisdiction": jurisdiction} for c in credits
            ],
            "visited_on": on,
            "kind": "policy_briefing",
            "participants": [],
            "findings": "",
            "outcomes": "",
            "demands_raised": [],
            "follow_up_of": [],
            "logged_by": "k",
            "at": f"{on}T02:00:00+00:00",
        },
        jurisdiction=jurisdiction,
    )


# --- enterprise events -----------------------------------------------------------------------


def enterprise(
    credit,
    tier,
    when,
    *,
    updated=False,
    jurisdiction=J,
    named_person=False,
    one_plan=False,
    event_id=None,
):
    """``enterprise.registered`` (or ``.updated``) occurring at ``when``: the tier
    history is dated by the event's ``occurred_at``."""
    return ev(
        "enterprise.updated" if updated else "enterprise.registered",
        "intake",
        {
            "credit_code": credit,
            "name": f"企业{credit[-4:]}",
            "jurisdiction": jurisdiction,
            "technology_field": None,
            "growth_tier": tier,
            "is_key": False,
            "needs_named_person": named_person,
            "needs_one_plan": one_plan,
            "revenue": None,
            "has_rd_activity": None,
            "has_rd_institution": None,
        },
        jurisdiction=jurisdiction,
        occurred_at=when,
        event_id=event_id,
    )


def kpis(svc, period="2026-11", jurisdiction=J, principal=ADMIN):
    return jurisdiction_kpis(svc.uow(), principal, {"jurisdiction": jurisdiction, "period": period})


def insert_rule_set(svc, jurisdiction, targets, *, effective_from=date(2021, 1, 1), version=1):
    body = default_rule_set()
    body["targets"] = targets
    with svc.uow() as uow:
        uow.session.execute(
            rule_sets.insert().values(
                jurisdiction=jurisdiction,
                version=version,
                effective_from=effective_from,
                body=json.dumps(body, ensure_ascii=False),
                published_by="k",
                published_at=datetime.now(UTC),
            )
        )
        uow.commit()


# --- the loop's rates ------------------------------------------------------------------------


def test_nothing_happened_gives_no_rates_but_the_targets(svc):
    k = kpis(svc)
    assert k["jurisdiction"] == J and k["period"] == "2026-11"
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
    sc = k["station_coverage"]
    assert sc["tech_smes"] == 0 and sc["tech_sme_coverage"] is None
    assert (sc["tech_sme_target"], sc["hitech_candidate_target"]) == (0.15, 0.75)
    assert sc["incubated_share"] is None and sc["incubated_target"] == 0.3333
    sx = k["sx_targets"]
    assert sx["base_year"] == 2021 and sx["base_tech_smes"] is None
    assert sx["tech_smes_vs_base"] is None and sx["hitech_vs_base"] is None
    assert sx["tech_sme_growth"] is None and sx["growth_target"] == 0.2
    assert sx["doubling_target"] == 2.0
    assert (sx["needs_named_person"], sx["needs_one_plan"]) == (0, 0)


def test_closure_rate_is_the_cohort_accepted_in_the_period_and_closed_by_its_end(svc):
    feed(
        svc,
        # accepted in November: D1, D2 closed in November, D3 in December, D4 still open
        accepted("D1", utc(2026, 11, 2)),
        accepted("D2", utc(2026, 11, 3)),
        accepted("D3", utc(2026, 11, 4)),
        accepted("D4", utc(2026, 11, 5)),
        closed("D1", utc(2026, 11, 10)),
        closed("D2", utc(2026, 11, 12)),
        closed("D3", utc(2026, 12, 3)),
        # accepted in October, closed in November: closed in the period, not in the cohort
        accepted("O1", utc(2026, 10, 20)),
        closed("O1", utc(2026, 11, 6)),
    )
    d = kpis(svc)["demands"]
    assert (d["accepted"], d["closed"], d["solved"]) == (4, 3, 3)
    assert d["closure_rate"] == 0.5  # D1, D2 of D1..D4
    # December's close counts for December's own numbers, not for November's cohort
    dec = kpis(svc, "2026-12")["demands"]
    assert (dec["accepted"], dec["closed"], dec["closure_rate"]) == (0, 1, None)
    # the quarter: D1..D4 and O1 accepted, all but D4 closed by its end (D3 in December)
    q4 = kpis(svc, "2026-Q4")["demands"]
    assert (q4["accepted"], q4["closed"], q4["closure_rate"]) == (5, 4, 0.8)


def test_closure_rate_never_exceeds_one_when_older_demands_close_in_the_period(svc):
    feed(
        svc,
        accepted("N1", utc(2026, 11, 2)),
        accepted("N2", utc(2026, 11, 3)),
        closed("N1", utc(2026, 11, 10)),
        closed("N2", utc(2026, 11, 11)),
        *(accepted(f"O{i}", utc(2026, 9, 1 + i)) for i in range(3)),
        *(closed(f"O{i}", utc(2026, 11, 12 + i)) for i in range(3)),
    )
    d = kpis(svc)["demands"]
    assert (d["accepted"], d["closed"]) == (2, 5)
    assert d["closure_rate"] == 1.0  # not 5 / 2


def test_a_demand_accepted_just_before_midnight_china_time_belongs_to_the_next_month(svc):
    # 2026-11-30T17:00Z is 2026-12-01 01:00 in China: a December demand
    feed(svc, accepted("D1", utc(2026, 11, 30, 17)), closed("D1", utc(2026, 12, 2)))
    assert kpis(svc)["demands"]["accepted"] == 0
    dec = kpis(svc, "2026-12")["demands"]
    assert (dec["accepted"], dec["closure_rate"]) == (1, 1.0)


def test_on_time_rate_is_over_closed_demands_with_an_on_time_value(svc):
    feed(
        svc,
        closed("D1", utc(2026, 11, 5), on_time=True),
        closed("D2", utc(2026, 11, 6), on_time=False),
        closed("D3", utc(2026, 11, 7), on_time=True),
        closed("D4", utc(2026, 11, 8), on_time=None),  # no time limit known: left out
        closed("D5", utc(2026, 10, 8), on_time=False),  # another month
    )
    d = kpis(svc)["demands"]
    assert d["closed"] == 4
    assert d["on_time_rate"] == 0.6667  # 2 of 3


def test_on_time_rate_the_last_close_in_the_period_decides(svc):
    feed(
        svc,
        closed("D1", utc(2026, 11, 5), on_time=False),
        reopened("D1", utc(2026, 11, 6)),
        closed("D1", utc(2026, 11, 9), on_time=True, frm="in_progress"),
        closed("D2", utc(2026, 11, 9), on_time=True),
    )
    d = kpis(svc)["demands"]
    assert d["closed"] == 2  # D1 once
    assert d["on_time_rate"] == 1.0


def test_problem_solving_rate_is_solved_over_closed(svc):
    feed(
        svc,
        closed("D1", utc(2026, 11, 5), resolution="solved"),
        closed("D2", utc(2026, 11, 6), resolution="solved"),
        closed("D3", utc(2026, 11, 7), resolution="solved"),
        closed("D4", utc(2026, 11, 8), resolution="unsolvable"),
    )
    d = kpis(svc)["demands"]
    assert (d["closed"], d["solved"]) == (4, 3)
    assert d["problem_solving_rate"] == 0.75


def test_satisfaction_is_the_mean_of_the_revisit_ratings_in_the_period(svc):
    feed(
        svc,
        revisited("D1", 5, utc(2026, 11, 5)),
        revisited("D2", 4, utc(2026, 11, 6)),
        revisited("D3", 4, utc(2026, 11, 7)),
        revisited("D4", 1, utc(2026, 10, 7)),  # October
        revisited("X1", 1, utc(2026, 11, 7), jurisdiction=SIBLING),  # another district
    )
    d = kpis(svc)["demands"]
    assert d["ratings"] == 3
    assert d["satisfaction"] == 4.33  # 13 / 3
    # the city sees both districts: (5 + 4 + 4 + 1) / 4
    city = kpis(svc, jurisdiction="630100")["demands"]
    assert (city["ratings"], city["satisfaction"]) == (4, 3.5)


def test_a_sibling_districts_demands_do_not_count(svc):
    feed(
        svc,
        accepted("D1", utc(2026, 11, 2)),
        accepted("X1", utc(2026, 11, 2), jurisdiction=SIBLING),
        closed("X1", utc(2026, 11, 3), jurisdiction=SIBLING),
    )
    d = kpis(svc)["demands"]
    assert (d["accepted"], d["closed"], d["closure_rate"]) == (1, 0, 0.0)
    city = kpis(svc, jurisdiction="630100")["demands"]
    assert (city["accepted"], city["closed"], city["closure_rate"]) == (2, 1, 0.5)


# --- station coverage (CX 第十二条) ------------------------------------------------------------

BEFORE = utc(2025, 1, 10)  # registered well before the periods tested


def test_tech_sme_coverage_20_smes_3_served_meets_the_15_percent_target(svc):
    smes = [cc(i) for i in range(20)]
    feed(svc, *(enterprise(c, "tech_sme", BEFORE) for c in smes))
    feed(
        svc,
        accepted("D1", utc(2026, 11, 3), credit=smes[0]),  # served by a demand
        visit("2026-11-12", smes[1], smes[2]),  # served by a visit
        visit("2026-11-20", smes[0]),  # served twice: counted once
        visit("2026-10-12", smes[3]),  # October: not in the period
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_smes"], sc["tech_smes_served"]) == (20, 3)
    assert sc["tech_sme_coverage"] == 0.15
    assert sc["tech_sme_coverage"] >= sc["tech_sme_target"] == 0.15


def test_high_tech_candidate_coverage(svc):
    candidates = [cc(100 + i) for i in range(4)]
    feed(svc, *(enterprise(c, "hitech_candidate", BEFORE) for c in candidates))
    feed(svc, enterprise(cc(200), "tech_sme", BEFORE))
    feed(
        svc,
        visit("2026-11-05", candidates[0], cc(200)),
        accepted("D1", utc(2026, 11, 6), credit=candidates[1]),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["hitech_candidates"], sc["hitech_candidates_served"]) == (4, 2)
    assert sc["hitech_candidate_coverage"] == 0.5
    assert sc["hitech_candidate_target"] == 0.75
    assert (sc["tech_smes"], sc["tech_smes_served"], sc["tech_sme_coverage"]) == (1, 1, 1.0)
    # one more candidate served: 3 of 4 meets the target
    feed(svc, visit("2026-11-25", candidates[2]))
    sc = kpis(svc)["station_coverage"]
    assert sc["hitech_candidate_coverage"] == 0.75


def test_coverage_counts_only_the_jurisdictions_enterprises(svc):
    mine, theirs = cc(1), cc(2, SIBLING)
    feed(
        svc,
        enterprise(mine, "tech_sme", BEFORE),
        enterprise(theirs, "tech_sme", BEFORE, jurisdiction=SIBLING),
        visit("2026-11-05", theirs, jurisdiction=SIBLING),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_smes"], sc["tech_smes_served"], sc["tech_sme_coverage"]) == (1, 0, 0.0)
    city = kpis(svc, jurisdiction="630100")["station_coverage"]
    assert (city["tech_smes"], city["tech_smes_served"], city["tech_sme_coverage"]) == (2, 1, 0.5)


def test_tiers_are_as_they_stood_at_the_periods_end(svc):
    promoted, demoted = cc(1), cc(2)
    feed(
        svc,
        enterprise(promoted, "tech_sme", BEFORE),
        enterprise(promoted, "hitech_candidate", utc(2026, 12, 3), updated=True),
        enterprise(demoted, "hitech_candidate", BEFORE),
        enterprise(demoted, "tech_sme", utc(2027, 1, 3), updated=True),
        visit("2026-11-05", promoted),
    )
    nov = kpis(svc)["station_coverage"]
    # November: promoted was still a tech SME (and served), demoted still a candidate
    assert (nov["tech_smes"], nov["tech_smes_served"], nov["tech_sme_coverage"]) == (1, 1, 1.0)
    assert (nov["hitech_candidates"], nov["hitech_candidates_served"]) == (1, 0)
    assert kpis(svc)["sx_targets"]["tech_smes"] == 1
    dec = kpis(svc, "2026-12")["station_coverage"]
    assert (dec["tech_smes"], dec["hitech_candidates"]) == (0, 2)
    jan = kpis(svc, "2027-01")["station_coverage"]
    assert (jan["tech_smes"], jan["hitech_candidates"]) == (1, 1)


def test_an_update_promoting_within_the_period_counts_with_the_new_tier(svc):
    e = cc(1)
    feed(
        svc,
        enterprise(e, "tech_sme", BEFORE),
        enterprise(e, "hitech_candidate", utc(2026, 11, 10), updated=True),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_smes"], sc["hitech_candidates"]) == (0, 1)
    assert kpis(svc, "2026-10")["station_coverage"]["tech_smes"] == 1


def test_an_enterprise_registered_after_the_period_is_not_counted_in_it(svc):
    feed(
        svc,
        enterprise(cc(1), "tech_sme", BEFORE),
        enterprise(cc(2), "tech_sme", utc(2026, 12, 5)),  # registered in December
    )
    assert kpis(svc)["station_coverage"]["tech_smes"] == 1
    assert kpis(svc)["sx_targets"]["tech_smes"] == 1


def test_the_later_of_two_tier_changes_on_the_same_day_decides(svc):
    e = cc(1)
    feed(
        svc,
        # registered at 08:00 as a tech SME, made a candidate at 09:00 the same day; the
        # ids are chosen so the earlier event sorts last
        enterprise(
            e, "tech_sme", utc(2026, 11, 10, 0), event_id="ffffffff-ffff-4fff-bfff-ffffffffffff"
        ),
        enterprise(
            e,
            "hitech_candidate",
            utc(2026, 11, 10, 1),
            updated=True,
            event_id="00000000-0000-4000-8000-000000000000",
        ),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_smes"], sc["hitech_candidates"]) == (0, 1)


def test_a_tier_change_is_dated_in_china_time(svc):
    e = cc(1)
    feed(
        svc,
        enterprise(e, "tech_sme", BEFORE),
        enterprise(e, "hitech_candidate", utc(2026, 11, 30, 17), updated=True),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_smes"], sc["hitech_candidates"]) == (1, 0)


def certify(credit, when):
    """A candidate since 2024 certified high-tech at ``when``."""
    return [
        enterprise(credit, "hitech_candidate", utc(2024, 1, 2)),
        enterprise(credit, "hitech_enterprise", when, updated=True),
    ]


def test_incubated_share_of_newly_certified_high_tech_enterprises(svc):
    by_visit, by_demand, never, earlier = cc(1), cc(2), cc(3), cc(4)
    feed(
        svc,
        *certify(by_visit, utc(2026, 11, 10)),
        *certify(by_demand, utc(2026, 11, 12)),
        *certify(never, utc(2026, 11, 14)),
        *certify(earlier, utc(2026, 10, 14)),  # certified in October: not new in November
        visit("2025-06-10", by_visit),  # 17 months before
        accepted("D1", utc(2026, 10, 3), credit=by_demand),  # the month before
        visit("2026-09-01", earlier),
    )
    sc = kpis(svc)["station_coverage"]
    assert sc["newly_certified_hitech"] == 3
    assert sc["incubated"] == 2
    assert sc["incubated_share"] == 0.6667
    assert sc["incubated_share"] >= sc["incubated_target"] == 0.3333
    # high-tech enterprises are neither tech SMEs nor candidates any more
    assert (sc["tech_smes"], sc["hitech_candidates"]) == (0, 0)
    oct_ = kpis(svc, "2026-10")["station_coverage"]
    assert (oct_["newly_certified_hitech"], oct_["incubated"]) == (1, 1)
    # the year: all four certified in 2026, three of them served before
    year = kpis(svc, "2026")["station_coverage"]
    assert (year["newly_certified_hitech"], year["incubated"], year["incubated_share"]) == (
        4,
        3,
        0.75,
    )


def test_one_in_three_newly_certified_incubated_falls_just_short_of_the_target(svc):
    served, a, b = cc(1), cc(2), cc(3)
    feed(
        svc,
        *certify(served, utc(2026, 11, 3)),
        *certify(a, utc(2026, 11, 4)),
        *certify(b, utc(2026, 11, 5)),
        visit("2026-03-03", served),
    )
    sc = kpis(svc)["station_coverage"]
    assert (sc["newly_certified_hitech"], sc["incubated"]) == (3, 1)
    assert sc["incubated_share"] == 0.3333 == sc["incubated_target"]


def test_a_service_more_than_24_months_before_certification_is_not_incubation(svc):
    e = cc(1)
    feed(svc, *certify(e, utc(2026, 11, 10)), visit("2024-05-10", e))  # 30 months before
    sc = kpis(svc)["station_coverage"]
    assert (sc["newly_certified_hitech"], sc["incubated"]) == (1, 0)


def test_a_service_after_the_period_is_not_incubation(svc):
    e = cc(1)
    feed(svc, *certify(e, utc(2026, 11, 10)), visit("2026-12-05", e))
    sc = kpis(svc)["station_coverage"]
    assert (sc["newly_certified_hitech"], sc["incubated"]) == (1, 0)


# --- SX targets --------------------------------------------------------------------------


def sx_world(svc):
    """Five tech SMEs and two high-tech enterprises a year ago (2025-03); one tech SME,
    one promotion to high-tech and one little giant since."""
    then = utc(2025, 3, 1)
    feed(
        svc,
        enterprise(cc(1), "tech_sme", then, named_person=True),
        enterprise(cc(2), "tech_sme", then, named_person=True, one_plan=True),
        *(enterprise(cc(i), "tech_sme", then) for i in (3, 4, 5)),
        enterprise(cc(6), "tech_sme", utc(2026, 2, 1)),
        enterprise(cc(11), "hitech_enterprise", then, one_plan=True),
        enterprise(cc(12), "hitech_enterprise", then),
        enterprise(cc(13), "hitech_candidate", then),
        enterprise(cc(13), "hitech_enterprise", utc(2026, 6, 1), updated=True),
        enterprise(cc(14), "little_giant", utc(2026, 4, 1)),
        # another district: counted by the city, not by 城东区
        enterprise(
            cc(21, SIBLING),
            "tech_sme",
            then,
            jurisdiction=SIBLING,
            named_person=True,
            one_plan=True,
        ),
    )


def test_sx_counts_vs_the_base_set_in_a_rule_set_and_growth_vs_a_year_earlier(svc):
    sx_world(svc)
    insert_rule_set(svc, "630000", {"base_tech_smes": 4, "base_hitech_enterprises": 2})
    sx = kpis(svc)["sx_targets"]
    assert (sx["tech_smes"], sx["hitech_enterprises"]) == (6, 4)
    assert (sx["base_year"], sx["base_tech_smes"], sx["base_hitech_enterprises"]) == (2021, 4, 2)
    assert sx["tech_smes_vs_base"] == 1.5
    assert sx["hitech_vs_base"] == 2.0 == sx["doubling_target"]  # doubled
    assert sx["tech_sme_growth"] == 0.2  # 6 vs 5 a year earlier
    assert sx["hitech_growth"] == 1.0  # 4 vs 2
    assert sx["growth_target"] == 0.2  # the default, the rule set leaves it
    # the other targets keep their defaults too
    sc = kpis(svc)["station_coverage"]
    assert (sc["tech_sme_target"], sc["incubated_target"]) == (0.15, 0.3333)


def test_sx_growth_and_counts_of_an_earlier_period(svc):
    sx_world(svc)
    # May 2026: 6 tech SMEs (cc(6) since February); high-tech the two of 2025 and the
    # little giant (April), cc(13) not yet promoted (June)
    sx = kpis(svc, "2026-05")["sx_targets"]
    assert (sx["tech_smes"], sx["hitech_enterprises"]) == (6, 3)
    assert sx["tech_sme_growth"] == 0.2  # vs 5 in May 2025
    assert sx["hitech_growth"] == 0.5  # vs 2
    # a year before any enterprise: nothing to grow from
    assert kpis(svc, "2025-02")["sx_targets"]["tech_sme_growth"] is None


def test_growth_compares_with_the_end_of_the_same_period_a_year_earlier(svc):
    feed(
        svc,
        enterprise(cc(1), "tech_sme", utc(2025, 6, 1)),
        enterprise(cc(2), "tech_sme", utc(2025, 6, 1)),
        enterprise(cc(3), "tech_sme", utc(2025, 12, 30)),  # still 2025
        enterprise(cc(4), "tech_sme", utc(2026, 3, 1)),
    )
    sx = kpis(svc, "2026")["sx_targets"]
    assert sx["tech_smes"] == 4
    assert sx["tech_sme_growth"] == 0.3333  # 4 vs 3 at the end of 2025


def test_the_two_clearances_count_the_flagged_enterprises(svc):
    sx_world(svc)
    sx = kpis(svc)["sx_targets"]
    assert (sx["needs_named_person"], sx["needs_one_plan"]) == (2, 2)
    city = kpis(svc, jurisdiction="630100")["sx_targets"]
    assert (city["needs_named_person"], city["needs_one_plan"]) == (3, 3)
    assert city["tech_smes"] == 7
    # a named person assigned to cc(1): an update with the same tier clears its flag
    feed(svc, enterprise(cc(1), "tech_sme", utc(2026, 11, 20), updated=True))
    sx = kpis(svc)["sx_targets"]
    assert (sx["needs_named_person"], sx["needs_one_plan"]) == (1, 2)
    assert (sx["tech_smes"], sx["tech_sme_growth"]) == (6, 0.2)  # no new tier history


def test_the_nearest_rule_set_in_force_at_the_periods_start_sets_the_targets(svc):
    sx_world(svc)
    insert_rule_set(svc, "630000", {"base_tech_smes": 4, "base_hitech_enterprises": 2})
    insert_rule_set(
        svc,
        J,
        {"base_tech_smes": 3, "base_hitech_enterprises": 1, "tech_sme_coverage": 0.2},
        effective_from=date(2026, 11, 1),
    )
    k = kpis(svc)
    assert (k["sx_targets"]["base_tech_smes"], k["sx_targets"]["tech_smes_vs_base"]) == (3, 2.0)
    assert k["sx_targets"]["hitech_vs_base"] == 4.0
    assert k["station_coverage"]["tech_sme_target"] == 0.2
    # October: the district's version was not yet in force; the province's was
    oct_ = kpis(svc, "2026-10")
    assert oct_["sx_targets"]["base_tech_smes"] == 4
    assert oct_["station_coverage"]["tech_sme_target"] == 0.15
    # the sibling district inherits only the province's
    assert kpis(svc, jurisdiction=SIBLING)["sx_targets"]["base_tech_smes"] == 4


def test_targets_of_a_published_rule_set_apply_from_its_effective_date(svc):
    body = default_rule_set()
    body["targets"] = {
        **body["targets"],
        "base_tech_smes": 10,
        "base_hitech_enterprises": 5,
        "hitech_candidate_coverage": 0.8,
    }
    today = china_today()
    publish_rule_set(
        svc.uow(), ADMIN, J, {"effective_from": today, "rule_set": body}, correlation_id="cid"
    )
    feed(svc, *(enterprise(cc(i), "tech_sme", BEFORE) for i in range(5)))
    later = str(today.year + 1)
    k = kpis(svc, later)
    assert (k["sx_targets"]["base_tech_smes"], k["sx_targets"]["base_hitech_enterprises"]) == (
        10,
        5,
    )
    assert k["sx_targets"]["tech_smes_vs_base"] == 0.5
    assert k["sx_targets"]["hitech_vs_base"] == 0.0
    assert k["station_coverage"]["hitech_candidate_target"] == 0.8
    # before its effective date the default applies
    assert kpis(svc, str(today.year - 1))["sx_targets"]["base_tech_smes"] is None


# --- access and arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal_jurisdiction,jurisdiction",
    [
        ("630102", SIBLING),  # a sibling district
        ("630102", "630100"),  # the city above
        ("630100", "630200"),  # another city
        ("630000", "620000"),  # another province
        ("630000", "620102"),
    ],
)
def test_a_jurisdiction_outside_the_principals_subtree_is_403(
    svc, principal_jurisdiction, jurisdiction
):
    p = Principal(key_id="k", name="t", role="admin", jurisdiction=principal_jurisdiction)
    with pytest.raises(DomainError) as exc:
        kpis(svc, jurisdiction=jurisdiction, principal=p)
    assert status_of(exc.value) == 403


def test_the_principals_own_jurisdiction_and_below_are_visible(svc):
    p = Principal(key_id="k", name="t", role="district", jurisdiction=J)
    assert kpis(svc, principal=p)["jurisdiction"] == J
    city = Principal(key_id="k", name="t", role="city", jurisdiction="630100")
    assert kpis(svc, jurisdiction=J, principal=city)["jurisdiction"] == J


# --- a day (日调度) ------------------------------------------------------------------------


def test_a_days_kpis_count_what_happened_on_that_china_time_day(svc):
    """3 November (China time): D1 accepted and closed on time, D2 accepted at 23:30
    (15:30 UTC), D0 (accepted in October) closed late and rated 4, an SME visited; D3
    accepted at 00:30 on the 4th (16:30 UTC on the 3rd) is the next day's."""
    smes = [cc(i) for i in range(4)]
    feed(svc, *(enterprise(c, "tech_sme", BEFORE) for c in smes))
    feed(
        svc,
        accepted("D0", utc(2026, 10, 20), credit=smes[3]),
        accepted("D1", utc(2026, 11, 3), credit=smes[0]),
        accepted("D2", utc(2026, 11, 3, 15).replace(minute=30)),
        accepted("D3", utc(2026, 11, 3, 16).replace(minute=30), credit=smes[2]),
        closed("D1", utc(2026, 11, 3, 6)),
        closed("D0", utc(2026, 11, 3, 7), on_time=False, resolution="unsolvable"),
        revisited("D0", 4, utc(2026, 11, 3, 8)),
        visit("2026-11-03", smes[1]),
        visit("2026-11-04", smes[3]),
    )
    k = kpis(svc, "2026-11-03")
    assert k["period"] == "2026-11-03"
    assert k["demands"] == {
        "accepted": 2,
        "closed": 2,
        "solved": 1,
        "closure_rate": 0.5,  # of the day's two, D1 closed that day
        "on_time_rate": 0.5,
        "problem_solving_rate": 0.5,
        "satisfaction": 4.0,
        "ratings": 1,
    }
    sc = k["station_coverage"]
    assert (sc["tech_smes"], sc["tech_smes_served"]) == (4, 2)  # D1's and the visit's
    nxt = kpis(svc, "2026-11-04")
    assert (nxt["demands"]["accepted"], nxt["station_coverage"]["tech_smes_served"]) == (1, 2)
    assert kpis(svc, "2026-11")["demands"]["accepted"] == 3  # the month holds its days
    week = kpis(svc, "2026-W45")  # 周推进: 2–8 November
    assert (week["demands"]["accepted"], week["demands"]["closed"]) == (3, 2)
    assert week["station_coverage"]["tech_smes_served"] == 4


@pytest.mark.parametrize(
    "period",
    ["2026-13", "2026-00", "2026-Q5", "2026/11", "26-11", "", "2026-11-31", "2026-W54", "1899"],
)
def test_a_bad_period_is_422(svc, period):
    with pytest.raises(DomainError) as exc:
        kpis(svc, period)
    assert status_of(exc.value) == 422
    assert "period" in exc.value.fields["query"]


def test_a_forbidden_jurisdiction_is_403_even_with_a_bad_period(svc):
    p = Principal(key_id="k", name="t", role="admin", jurisdiction=J)
    with pytest.raises(DomainError) as exc:
        kpis(svc, "bad", jurisdiction=SIBLING, principal=p)
    assert status_of(exc.value) == 403


def test_a_parks_kpis_count_its_demands_its_county_counts_them_a_sibling_park_may_not(svc):
    park, sibling = "630102-P0001", "630102-P0002"
    feed(
        svc,
        accepted(f"{park}-2026-000001", utc(2026, 11, 2), credit=cc(1), jurisdiction=park),
        accepted(
            f"{park}-W0001-2026-000001",
            utc(2026, 11, 3),
            credit=cc(2),
            jurisdiction=f"{park}-W0001",
        ),
        accepted(f"{sibling}-2026-000001", utc(2026, 11, 4), credit=cc(3), jurisdiction=sibling),
        closed(f"{park}-2026-000001", utc(2026, 11, 10), jurisdiction=park),
    )
    query = KpiArgs().load({"jurisdiction": park, "period": "2026-11"})
    mine = jurisdiction_kpis(svc.uow(), Principal("k", "t", "district", park), query)
    assert mine["jurisdiction"] == park
    assert (mine["demands"]["accepted"], mine["demands"]["closed"]) == (2, 1)
    assert kpis(svc, jurisdiction=sibling)["demands"]["accepted"] == 1
    assert kpis(svc, jurisdiction=J)["demands"]["accepted"] == 3
    with pytest.raises(Forbidden):
        jurisdiction_kpis(svc.uow(), Principal("k", "t", "district", sibling), query)
    assert KpiArgs().validate({"jurisdiction": "630102-P01", "period": "2026-11"}) == {
        "jurisdiction": ["not a unit code"]
    }


# --- the tier counts, against the rule ---------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_tier_counts_from_the_database_are_those_the_rule_gives(svc, seed):
    """Random enterprises in two districts with random tier histories (same-day changes,
    changes after the day), fed in a shuffled order and served by demands and visits: the
    counts the database gives in one pass equal ``count_tiers`` over the stored history
    replayed in Python (the last change by day, instant and event id)."""
    import random

    from sqlalchemy import select

    from services.scoring.domain.kpis import count_tiers
    from services.scoring.kpis import _tiers
    from services.scoring.models import enterprises, tier_history
    from shared.events import subtree_prefix
    from shared.periods import parse_period

    rng = random.Random(seed)
    tiers = (None, "tech_sme", "hitech_candidate", "hitech_enterprise", "little_giant")
    events, home = [], {}
    for n in range(40):
        home[n] = rng.choice((J, SIBLING))
        for k in range(rng.randint(1, 4)):
            when = utc(2026, rng.choice((9, 10, 11, 12)), rng.randint(1, 28), rng.randint(0, 23))
            events.append(
                enterprise(
                    cc(n, home[n]), rng.choice(tiers), when, updated=k > 0, jurisdiction=home[n]
                )
            )
    served: dict[str, set[str]] = {J: set(), SIBLING: set()}
    for n in rng.sample(range(40), 15):
        where, credit = home[n], cc(n, home[n])
        if rng.random() < 0.5:
            on = utc(2026, 11, rng.randint(1, 28))
            events.append(accepted(f"D{n}", on, credit=credit, jurisdiction=where))
        else:
            events.append(visit(f"2026-11-{rng.randint(1, 28):02d}", credit, jurisdiction=where))
        served[where].add(credit)
    rng.shuffle(events)
    feed(svc, *events)
    nov = parse_period("2026-11")
    th, e = tier_history.c, enterprises.c
    with svc.db.session() as s:
        stored = s.execute(
            select(e.jurisdiction, th.credit_code, th.growth_tier, th.since)
            .join(enterprises, e.credit_code == th.credit_code)
            .order_by(th.since, th.at, th.event_id)
        ).all()
        for jurisdiction in (J, SIBLING, "630100"):
            prefix = subtree_prefix(jurisdiction)
            mine = set().union(*(v for k, v in served.items() if k.startswith(prefix)))
            for day in (date(2026, 10, 15), nov.end):
                last = {
                    code: tier
                    for where, code, tier, since in stored
                    if where.startswith(prefix) and since <= day
                }
                got, want = _tiers(s, prefix, day, nov), count_tiers(last, mine)
                assert (got.counts, got.served) == (want.counts, want.served), (
                    seed,
                    jurisdiction,
                    day,
                )
                assert _tiers(s, prefix, day).counts == want.counts


@pytest.mark.parametrize("seed", range(5))
def test_incubation_counted_in_the_database_is_what_the_rule_gives(svc, seed):
    """Enterprises certified high-tech on random days (some twice, some before the
    period), served by demands and visits in random months from 30 months before to after
    their certification, in and out of the district: the database's counts equal
    ``domain.kpis.incubated`` over the stored facts."""
    import random

    from sqlalchemy import select

    from services.scoring.domain.kpis import incubated
    from services.scoring.kpis import _incubation
    from services.scoring.models import demand_months, tier_history, visit_enterprises
    from shared.events import subtree_prefix
    from shared.periods import parse_period

    rng = random.Random(seed)
    events, home = [], {}
    for n in range(30):
        home[n] = rng.choice((J, SIBLING))
        events.append(enterprise(cc(n, home[n]), "tech_sme", utc(2023, 1, 1), jurisdiction=home[n]))
        for _ in range(rng.randint(0, 2)):
            when = utc(rng.choice((2025, 2026, 2026)), rng.randint(1, 12), rng.randint(1, 28))
            tier = rng.choice(("hitech_enterprise", "hitech_enterprise", "tech_sme"))
            events.append(
                enterprise(cc(n, home[n]), tier, when, updated=True, jurisdiction=home[n])
            )
        for i in range(rng.randint(0, 3)):
            year, month = rng.choice((2024, 2025, 2026, 2027)), rng.randint(1, 12)
            where = rng.choice((J, SIBLING))
            if rng.random() < 0.5:
                on = utc(year, month, rng.randint(1, 28))
                events.append(accepted(f"D{n}-{i}", on, credit=cc(n, home[n]), jurisdiction=where))
            else:
                day = f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
                events.append(visit(day, cc(n, home[n]), jurisdiction=where))
    rng.shuffle(events)
    feed(svc, *events)
    th, dm, v = tier_history.c, demand_months.c, visit_enterprises.c
    with svc.db.session() as s:
        history = s.execute(select(th.credit_code, th.growth_tier, th.since)).all()
        served: dict[str, set[str]] = {}
        for code, month in s.execute(select(dm.accepted_by, dm.month).where(dm.accepted)):
            served.setdefault(code, set()).add(month)
        for code, month in s.execute(select(v.credit_code, v.period)):
            served.setdefault(code, set()).add(month)
        for jurisdiction in (J, SIBLING, "630100"):
            prefix = subtree_prefix(jurisdiction)
            for label in ("2026", "2026-Q2", "2026-11"):
                period = parse_period(label)
                certified: dict = {}
                for code, tier, since in history:
                    if (
                        tier == "hitech_enterprise"
                        and period.start <= since <= period.end
                        and code[2:8].startswith(prefix)
                    ):
                        certified[code] = min(since, certified.get(code, since))
                want = (len(certified), len(incubated(certified, served)))
                assert _incubation(s, prefix, period) == want, (seed, jurisdiction, label)
