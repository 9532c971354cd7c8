"""Versioned rule sets (shared/rulesets.py): published, never edited; in force by date;
inherited down the jurisdiction path where the service says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime
from shared.outbox import add_outbox_tables
from shared.rulesets import RuleSets
from shared.timezone import china_today
from shared.usecases import Invalid
from tests.fakes import FakeUnitOfWork


def rule_table(metadata: MetaData, unit: str, body: str) -> Table:
    return Table(
        "rules",
        metadata,
        Column(unit, String(6), primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("effective_from", Date, nullable=False),
        Column(body, Text, nullable=False),
        Column("published_by", String(100), nullable=False),
        Column("published_at", UtcDateTime(), nullable=False),
    )


@pytest.fixture
def inherited(tmp_path):
    md = MetaData()
    add_outbox_tables(md)
    sets = RuleSets(rule_table(md, "jurisdiction", "params"))
    return sets, FakeUnitOfWork(md, tmp_path / "r.db")


@pytest.fixture
def own(tmp_path):
    md = MetaData()
    add_outbox_tables(md)
    sets = RuleSets(rule_table(md, "city", "body"), unit="city", body="body", inherit=False)
    return sets, FakeUnitOfWork(md, tmp_path / "r.db")


def test_versions_count_up_per_unit_and_keep_who_published(inherited):
    sets, uow = inherited
    today = china_today()
    with uow:
        first = sets.publish(uow.session, "630100", today, {"weekly": 1}, "k-city")
        assert sets.publish(uow.session, "630100", today, {"weekly": 2}, "k-city").version == 2
        assert sets.publish(uow.session, "630102", today, {"weekly": 3}, "k-county").version == 1
        uow.commit()
    with uow.read() as s:
        versions = sets.versions(s, "630100")
    assert first.version == 1 and versions[0]["published_at"] == first.at
    assert [(v["version"], v["body"], v["published_by"]) for v in versions] == [
        (1, {"weekly": 1}, "k-city"),
        (2, {"weekly": 2}, "k-city"),
    ]


def test_a_version_taking_effect_before_today_is_refused_and_nothing_is_written(inherited):
    sets, uow = inherited
    with uow, pytest.raises(Invalid) as err:
        sets.publish(uow.session, "630100", china_today() - timedelta(days=1), {}, "k")
    assert err.value.fields == {"json": {"effective_from": ["rules take effect today or later"]}}
    with uow.read() as s:
        assert sets.versions(s, "630100") == []


def test_the_nearest_unit_on_the_path_wins_and_dates_decide(inherited):
    sets, uow = inherited
    today = china_today()
    with uow:
        sets.publish(uow.session, "630000", today, {"from": "province"}, "k")
        sets.publish(uow.session, "630100", today + timedelta(days=10), {"from": "city"}, "k")
        uow.commit()
    with uow.read() as s:
        assert sets.in_force(s, "630102", today) == ("630000", 1, {"from": "province"})
        later = today + timedelta(days=10)
        assert sets.in_force(s, "630102", later) == ("630100", 1, {"from": "city"})
        assert sets.in_force(s, "620102", later) is None  # another province: the defaults


def test_without_inheritance_only_the_units_own_versions_count(own):
    sets, uow = own
    today = china_today()
    with uow:
        sets.publish(uow.session, "630100", today, {"cap": 30}, "k")
        sets.publish(uow.session, "630100", today, {"cap": 40}, "k")
        uow.commit()
    with uow.read() as s:
        assert sets.in_force(s, "630100", today) == ("630100", 2, {"cap": 40})
        assert sets.in_force(s, "630102", today) is None
