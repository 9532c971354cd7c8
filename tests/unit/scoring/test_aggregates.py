"""The scorecard inputs counted in the database (services/scoring/aggregates.py) are those
the domain's rule gives (``domain.scorecard.collect``, over every fact in Python), on the same
facts — fed through the real consumers in a shuffled order, with owners changing hands,
reopened and re-closed demands, ratings, visits and manual records; and so are the records
behind each input, read a page at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.scoring import kpis
from services.scoring.aggregates import records, tally
from services.scoring.domain.facts import parse_period
from services.scoring.domain.kpis import tally_demands
from services.scoring.models import demand_facts
from services.scoring.scorecards import collect
from tests.unit.scoring.test_scorecards import (
    HANDLER,
    accepted,
    agency,
    cohandled,
    feed,
    owner,
    record,
    revisited,
    screened,
    status,
    visit,
)

UNITS = [("d-a", "甲部室"), ("d-b", "乙部室"), ("d-c", "丙部室")]
STAFF = [("s-1", "陈静"), ("s-2", "王芳")]
PERIODS = [parse_period(p) for p in ("2026-10", "2026-11", "2026-12", "2026-Q4", "2026")]


def when(rng: random.Random) -> str:
    month = rng.choice((10, 11, 12))
    return datetime(2026, month, rng.randint(1, 28), rng.randint(0, 23), tzinfo=UTC).isoformat()


def world(rng: random.Random) -> list:
    events = []
    for n in range(rng.randint(3, 8)):
        code = f"D{n}"
        category = rng.choice(("technology", "technology", "ip", "funding"))
        events.append(accepted(code, category=category))
        for _ in range(rng.randint(1, 3)):  # owners changing hands, at any time
            events.append(owner(code, category=category, unit=rng.choice(UNITS), when=when(rng)))
        if rng.random() < 0.8:
            events.append(screened(code, when=when(rng)))
        if rng.random() < 0.7:
            events.append(
                status(code, "accepted", "in_progress", category=category, when=when(rng))
            )
        if rng.random() < 0.5:
            events.append(agency(code, category=category, when=when(rng)))
        for _ in range(rng.randint(0, 3)):  # closed, perhaps reopened and closed again
            events.append(
                status(
                    code,
                    "feedback",
                    "closed",
                    category=category,
                    when=when(rng),
                    resolution=rng.choice(("solved", "unsolvable", None)),
                    on_time=rng.choice((True, False, None)),
                )
            )
            if rng.random() < 0.6:
                events.append(revisited(code, rng.randint(1, 5), when=when(rng)))
        for unit in rng.sample(UNITS, rng.randint(0, 2)):  # co-handlers, one report each
            outcome = rng.choice(("done", "done", "unable"))
            events.append(
                cohandled(code, unit=unit, category=category, outcome=outcome, when=when(rng))
            )
    for _ in range(rng.randint(0, 6)):
        on = f"2026-{rng.choice((10, 11, 12))}-{rng.randint(1, 28):02d}"
        staff = rng.choice([*STAFF, None])
        events.append(visit(staff=staff, dept=rng.choice([*UNITS, None]), on=on))
    rng.shuffle(events)
    return events


def feed_in_batches(svc, events: list, rng: random.Random) -> None:
    """Deliver ``events`` as a consumer does under load: taken a few at a time from the
    broker, each queue's share applied in one transaction (``Inbox.apply_batch``), so
    one transaction's handlers ask for the same demands and attribute them together."""
    while events:
        n = rng.randint(1, 12)
        taken, events = events[:n], events[n:]
        by_handler: dict = {}
        for event in taken:
            by_handler.setdefault(HANDLER[event.event_type], []).append(event)
        for handler, group in by_handler.items():
            svc.inbox.apply_batch(svc.uow, f"scoring.{handler.__name__}", group, handler)


@pytest.mark.parametrize("seed", range(12))
def test_the_aggregates_give_the_inputs_and_records_the_rule_gives(svc, seed):
    rng = random.Random(seed)
    feed(svc, *world(rng))
    check_against_rule(svc, rng, seed)


@pytest.mark.parametrize("seed", range(8))
def test_events_applied_in_batches_give_what_the_rule_gives(svc, seed):
    """A batch attributes each of its demands once, all together, before it commits
    (``attribution.attribute_later``): the same inputs and records as one by one."""
    rng = random.Random(seed)
    feed_in_batches(svc, world(rng), rng)
    check_against_rule(svc, rng, seed)


def check_against_rule(svc, rng: random.Random, seed: int) -> None:
    for _ in range(rng.randint(0, 5)):
        kind = rng.choice(("integrity_rating", "efficiency_override", "paper", "attitude_rating"))
        value = rng.randint(1, 5)
        unit = rng.choice(UNITS)[0]
        period = f"2026-{rng.choice((10, 11, 12))}"
        record(svc, kind, value, unit=unit, period=period, day=rng.randint(1, 27))
    ids = [u for u, _ in UNITS] + [s for s, _ in STAFF]
    with svc.db.session() as s:
        for period in PERIODS:
            expected = collect(s, period, ids)
            got = tally(s, period, ids)
            for unit in ids:
                want, have = expected[unit].inputs, got[unit].inputs
                assert have.counts == {k: v for k, v in want.counts.items() if v}, (seed, unit)
                assert have.overrides == want.overrides
                for name in set(want.ratings) | set(have.ratings) | set(have.rating_sums):
                    assert have.average(name) == want.average(name), (seed, unit, name)
                assert got[unit].totals == {k: n for k, n in expected[unit].totals.items() if n}, (
                    seed,
                    unit,
                )
                for name, behind in expected[unit].records.items():
                    listed, total = records(s, period, unit, [name], 0, 1000)
                    known = records(s, period, unit, [name], 0, 1000, got[unit].totals)
                    assert known == (listed, total), (seed, unit, name)
                    assert total == len(behind)
                    assert listed == [r | {"input": name} for r in behind], (seed, unit, name)


@pytest.mark.parametrize("seed", range(6))
def test_the_kpis_demand_counts_from_the_months_are_those_the_rule_gives(svc, seed):
    feed(svc, *world(random.Random(seed)))
    f = demand_facts.c
    with svc.db.session() as s:
        for period in PERIODS:
            rows = s.execute(
                select(f.fact, f.demand_code, f.value)
                .where(f.period.in_(period.months))
                .order_by(f.at, f.event_id)
            ).all()
            (got, _), want = kpis._demands(s, "630102", period), tally_demands(rows)
            for fact in ("accepted", "closed", "solved"):
                assert got.count(fact) == want.count(fact), (seed, period, fact)
            assert (got.on_time, got.timed) == (want.on_time, want.timed), (seed, period)
            assert (got.rating_sum, got.ratings) == (want.rating_sum, want.ratings)


@pytest.mark.parametrize("seed", range(4))
def test_the_days_of_a_month_add_up_to_the_month(svc, seed):
    """A day (日调度) is counted from the facts' instants and the visits' days: the days of
    November together hold every visit, rating, co-handled demand and accepted demand of
    the month, and every demand the month counts at a stage."""
    feed(svc, *world(random.Random(seed)))
    ids = [u for u, _ in UNITS] + [s for s, _ in STAFF]
    nov = parse_period("2026-11")
    days = [parse_period(f"2026-11-{d:02d}") for d in range(1, 31)]
    with svc.db.session() as s:
        month, by_day = collect(s, nov, ids), [collect(s, day, ids) for day in days]
        for unit in ids:
            for name in ("visits", "satisfaction"):  # each counts wherever it happened
                got = sum(len(d[unit].records.get(name, [])) for d in by_day)
                assert got == len(month[unit].records.get(name, [])), (seed, unit, name)
            for name, behind in month[unit].records.items():
                codes = {r.get("demand_code") for d in by_day for r in d[unit].records[name]}
                assert {r.get("demand_code") for r in behind} <= codes, (seed, unit, name)
        (whole, _), parts = (
            kpis._demands(s, "630102", nov),
            [kpis._day_demands(s, "630102", day)[0] for day in days],
        )
        assert whole.count("accepted") == sum(p.count("accepted") for p in parts), seed
        assert (whole.rating_sum, whole.ratings) == (
            sum(p.rating_sum for p in parts),
            sum(p.ratings for p in parts),
        )


def test_records_are_paged_across_an_items_inputs(svc):
    feed(svc, *(visit(on=f"2026-11-{d:02d}") for d in range(1, 8)))
    record(svc, "paper", 2, unit="s-1")
    record(svc, "paper", 1, unit="s-1", day=2)
    nov = parse_period("2026-11")
    with svc.db.session() as s:
        everything, total = records(s, nov, "s-1", ["visits", "paper"], 0, 100)
        assert total == 9 and [r["input"] for r in everything] == ["visits"] * 7 + ["paper"] * 2
        pages = [records(s, nov, "s-1", ["visits", "paper"], i, 4) for i in (0, 4, 8)]
        assert [n for _, n in pages] == [9, 9, 9]
        assert [r for page, _ in pages for r in page] == everything
        assert records(s, nov, "s-1", ["closed_on_time"], 0, 10) == ([], 0)


def test_no_units_no_tallies(svc):
    with svc.db.session() as s:
        assert tally(s, parse_period("2026-11"), []) == {}
