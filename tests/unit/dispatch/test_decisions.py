"""The dispatch decision: through the consumer against a fake unit of work (what is stored
and announced), and its pure parts (facts in, decision and messages out) without one."""

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from services.dispatch.alliance import AllianceRules, Decision, MonthTally
from services.dispatch.consumers import on_demand_accepted
from services.dispatch.decisions import (
    AgencyRequest,
    CityFacts,
    decide,
    dispatched_payload,
    list_decisions,
    made_payload,
    order_row,
    skip_reason,
)
from services.dispatch.models import agencies, blacklist, decisions
from services.dispatch.terms import contract_terms
from shared.timezone import china_today
from tests.factories import accepted_payload, alliance_member
from tests.fakes import actor

# --- through the consumer ------------------------------------------------------------


def test_a_market_demand_gets_an_owner_and_an_agency_in_rank_order(
    alliance, events, accept, orders_of
):
    code = accept()
    [order] = orders_of(code)
    assert order["assignee_id"] == "pat-a"  # rank 55 before 17
    assert (order["status"], order["value"], order["month"]) == ("dispatched", 3000, order["month"])
    kinds = sorted(e["payload"]["kind"] for e, _ in events("assignment.made"))
    assert kinds == ["agency", "owner"]
    [(msg, key)] = events("agency.order_dispatched")
    assert key == "agency.order_dispatched.630000.630100.630102.pat-a"
    assert msg["payload"]["terms"]["price"] == 3000
    # no consent: the assigned agency still gets the content (it handles the demand)
    assert msg["payload"]["consent_to_share"] is False
    assert msg["payload"]["details"]["title"] and json.loads(order["brief"])["title"]
    with alliance.read() as s:
        [d] = s.execute(select(decisions)).mappings().all()
    # literal caps: the month's first order holds 100 % of its item, so it overrides
    assert d["outcome"] == "cap_override" and d["agency_id"] == "pat-a"
    skipped = json.loads(d["explanation"])["skipped"]
    assert [s["agency_id"] for s in skipped] == ["pat-b"]


def test_rotation_passes_the_turn_and_respects_the_item_cap(alliance, accept, orders_of):
    first, second, third = accept(), accept(), accept()
    chosen = [orders_of(c)[0]["assignee_id"] for c in (first, second, third)]
    # 2nd: pat-b takes its turn (1/2 = 50 % is within the cap); 3rd: pat-a (2/3 > 50 %
    # for either, so the next in rotation gets it as an override)
    assert chosen == ["pat-a", "pat-b", "pat-a"]


def test_with_consent_the_agency_receives_the_content_and_contact(alliance, events, accept):
    contact = {"name": "王工", "phone": "0971-1234567"}
    accept(consent_to_share=True, contact=contact, title="专利申请", description="发明专利")
    [(msg, _)] = events("agency.order_dispatched")
    assert msg["payload"]["details"] == {
        "title": "专利申请",
        "description": "发明专利",
        "contact": contact,
    }


def test_an_enterprise_order_reaches_a_paused_agency_but_rotation_skips_it(
    alliance, accept, orders_of
):
    with alliance:
        alliance.session.execute(
            update(agencies)
            .where(agencies.c.id == "pat-a")
            .values(status="paused", paused_until=china_today() + timedelta(days=30))
        )
        alliance.commit()
    ordered = accept(ordered_agency="pat-a")
    rotated = accept()
    assert orders_of(ordered)[0]["assignee_id"] == "pat-a"
    assert orders_of(rotated)[0]["assignee_id"] == "pat-b"
    with alliance.read() as s:
        outcomes = [r.outcome for r in s.execute(select(decisions).order_by(decisions.c.id))]
    assert outcomes[0] == "ordered"


def test_blacklisted_enterprises_and_empty_categories_get_no_agency(
    alliance, events, accept, orders_of
):
    with alliance:
        alliance.session.execute(
            blacklist.insert().values(
                city="630100",
                credit_code=accepted_payload()["enterprise"]["credit_code"],
                reason="abandoned",
                note="中途放弃",
                actor="t",
                at=datetime.now(UTC),
            )
        )
        alliance.commit()
    code = accept()
    assert orders_of(code) == []
    code2 = accept(item="product_rd", agency_category="rd")  # no rd member, not listed
    assert orders_of(code2) == []
    with alliance.read() as s:
        outcomes = [r.outcome for r in s.execute(select(decisions).order_by(decisions.c.id))]
    assert outcomes == ["blacklisted", "blacklisted"]
    with alliance:
        alliance.session.execute(blacklist.delete())
        alliance.commit()
    accept(item="product_rd", agency_category="rd")
    [(failed, _)] = events("assignment.failed")
    assert failed["payload"]["kind"] == "agency"


def test_a_province_level_demand_has_no_alliance_and_says_so(alliance, events, deliver):
    payload = accepted_payload(service_item="ip_filing", agency_category="patent")
    deliver("demand.accepted", on_demand_accepted, where="630000", **payload)
    [(failed, _)] = [
        (e, k) for e, k in events("assignment.failed") if e["payload"]["kind"] == "agency"
    ]
    assert "province-level" in failed["payload"]["reason"]
    with alliance.read() as s:
        [d] = s.execute(select(decisions)).mappings().all()
    assert (d["outcome"], d["city"]) == ("no_agency", "630000")
    assert json.loads(d["explanation"])["rules_version"] == 0


def test_decisions_are_listed_in_the_actors_subtree_newest_first(alliance, accept):
    first, second = accept(), accept()
    listed = list_decisions(alliance, actor("district", "630102"), {"limit": 10})
    assert [d["demand_code"] for d in listed] == [second, first]
    assert listed[0]["explanation"]["chosen"] == "pat-b"
    one = list_decisions(alliance, actor("staff", "630102"), {"demand_code": first, "limit": 10})
    assert [d["demand_code"] for d in one] == [first]
    assert list_decisions(alliance, actor("district", "630103"), {"limit": 10}) == []


# --- the pure parts ----------------------------------------------------------------------

TODAY = date(2026, 11, 10)
NOW = datetime(2026, 11, 10, 2, tzinfo=UTC)
PATENT = [alliance_member("pat-a", 55, "patent"), alliance_member("pat-b", 17, "patent")]


def request(**over):
    fields = {
        "demand_code": "630102-2026-000001",
        "jurisdiction": "630102",
        "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料"},
        "category": "ip",
        "service_item": "ip_filing",
        "agency_category": "patent",
        "ordered": None,
        "consent": False,
        "brief": {"title": "t", "description": "d", "contact": None},
        "due_at": NOW + timedelta(days=5),
        "correlation_id": "corr",
    }
    return AgencyRequest(**{**fields, **over})


def facts(**over):
    fields = {
        "version": 2,
        "rules": AllianceRules(),
        "price": 9000,
        "coverage": 5000,
        "settlement_months": 13,
        "blacklisted": False,
        "last_rotated": None,
        "agencies": PATENT,
        "tally": MonthTally(),
    }
    return CityFacts(**{**fields, **over})


def test_the_decision_is_the_rules_on_the_facts():
    assert decide(facts(), request(), TODAY).agency_id == "pat-a"
    assert decide(facts(last_rotated="pat-a"), request(), TODAY).agency_id == "pat-b"
    assert decide(facts(blacklisted=True), request(), TODAY).outcome == "blacklisted"
    assert decide(facts(), request(ordered="pat-b"), TODAY).outcome == "ordered"
    taken_off = decide(facts(), request(exclude=("pat-a",)), TODAY)
    assert taken_off.agency_id == "pat-b"
    assert ("pat-a", "taken off this order (调单)") in taken_off.skipped


def test_the_order_row_and_its_messages_carry_the_terms_and_the_decision():
    d = Decision("rotation", "pat-a", "next in rotation", moves_rotation=True)
    f = facts()
    terms = contract_terms(9000, 5000, 13, f.rules)
    req = request(consent=True, replaces="old-order")
    row = order_row(req, d, 7, PATENT[0], terms, "630100", NOW)
    assert (row["value"], row["bond"], row["month"], row["city"]) == (
        9000,
        4000,
        "2026-11",
        "630100",
    )
    assert json.loads(row["brief"]) == req.brief and row["replaces"] == "old-order"
    made = made_payload(row, d)
    assert made["assignment_id"] == row["id"] and made["decision_outcome"] == "rotation"
    assert made["replaces"] == "old-order" and made["assigned_at"] == NOW.isoformat()
    sent = dispatched_payload(req, row, d, f, terms)
    assert sent["details"] == req.brief and sent["terms"]["bond"] == 4000
    assert "7 days" in sent["terms"]["settlement"]
    assert sent["decision"] == {"outcome": "rotation", "reason": "next in rotation"}


def test_without_consent_the_assigned_agency_still_gets_the_brief():
    """XN 保密: consent governs everyone but the parties handling the demand — the assigned
    agency reads the content and contact either way."""
    d = Decision("ordered", "pat-a", "enterprise order")
    f = facts(price=None, coverage=None, settlement_months=None)
    terms = contract_terms(0, None, None, f.rules)
    req = request()
    row = order_row(req, d, 1, PATENT[0], terms, "630100", NOW)
    assert json.loads(row["brief"]) == req.brief and row["consent_to_share"] is False
    assert row["value"] == 0 and row["bond"] == 0
    assert "replaces" not in made_payload(row, d)
    sent = dispatched_payload(req, row, d, f, terms)
    assert sent["details"] == req.brief and sent["consent_to_share"] is False
    assert sent["terms"]["price"] is None
    assert "details" not in made_payload(row, d) and "brief" not in made_payload(row, d)


def test_skip_reasons_are_metric_labels():
    assert skip_reason("paused until 2026-12-31") == "paused"
    assert skip_reason("exited the alliance") == "exited"
    assert skip_reason("would hold 2 of 3 orders of X (66.7% > 50%)") == "cap"
    assert skip_reason("taken off this order (调单)") == "taken off"
    assert skip_reason("ordered by the enterprise but is not a member; …") == "ordered"
    assert skip_reason("something else") == "other"
