"""Scoring's SQL on PostgreSQL: the randomized equivalence tests of the unit suite (which run
on SQLite) run again on a real PostgreSQL — the units' tallies kept by ``INSERT … ON
CONFLICT DO UPDATE`` under the per-demand advisory lock, the window over last closes and
tier histories, the KPIs' FILTERs, month arithmetic (``extract``) and EXISTS."""

from __future__ import annotations

import uuid

import pytest

from onestop import migrate
from services import scoring
from shared.config import load_settings
from tests.unit.scoring import test_aggregates, test_kpis

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(postgres, tmp_path, monkeypatch):
    env = {
        "ONESTOP_DATA_DIR": str(tmp_path),
        "ONESTOP_SCORING_DATABASE_URL": postgres.create_database(f"s_{uuid.uuid4().hex[:12]}"),
    }
    settings = load_settings(env)
    migrate.upgrade(settings, ("scoring",))
    service = scoring.build(settings)
    monkeypatch.setattr(service.relay, "notify", lambda: None)
    yield service
    service.db.dispose()


@pytest.mark.parametrize("seed", range(3))
def test_the_aggregates_give_what_the_rule_gives(svc, seed):
    test_aggregates.test_the_aggregates_give_the_inputs_and_records_the_rule_gives(svc, seed)


@pytest.mark.parametrize("seed", range(2))
def test_the_kpis_demand_counts(svc, seed):
    test_aggregates.test_the_kpis_demand_counts_from_the_months_are_those_the_rule_gives(svc, seed)


@pytest.mark.parametrize("seed", range(2))
def test_tier_counts(svc, seed):
    test_kpis.test_tier_counts_from_the_database_are_those_the_rule_gives(svc, seed)


@pytest.mark.parametrize("seed", range(2))
def test_incubation(svc, seed):
    test_kpis.test_incubation_counted_in_the_database_is_what_the_rule_gives(svc, seed)


def test_the_days_of_a_month_add_up_to_the_month(svc):
    test_aggregates.test_the_days_of_a_month_add_up_to_the_month(svc, 0)


def test_a_days_kpis(svc):
    test_kpis.test_a_days_kpis_count_what_happened_on_that_china_time_day(svc)


@pytest.mark.parametrize("seed", range(2))
def test_events_applied_in_batches_give_what_the_rule_gives(svc, seed):
    test_aggregates.test_events_applied_in_batches_give_what_the_rule_gives(svc, seed)


@pytest.mark.parametrize("seed", range(3))
def test_two_workers_applying_batches_of_the_same_demands_at_once(svc, seed):
    """Two scoring workers take batches touching the same demands in opposite orders at
    the same time: each batch locks its demands in one order (``lock_demands``), so neither
    deadlocks nor loses the other's facts — the tallies are what the rule gives."""
    import random
    import threading

    rng = random.Random(seed)
    events = test_aggregates.world(rng)
    halves = [events[0::2], list(reversed(events[1::2]))]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(part: list, n: int) -> None:
        barrier.wait()
        try:
            test_aggregates.feed_in_batches(svc, part, random.Random(n))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(h, i)) for i, h in enumerate(halves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    test_aggregates.check_against_rule(svc, rng, seed)
