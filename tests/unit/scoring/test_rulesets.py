"""Scoring's rule sets as use cases over a fake unit of work: the one in force (nearest
jurisdiction, else table A.1), publishing a version (announced), refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.scoring import handlers as h
from services.scoring.domain.table import DEFAULT_RULE_SET, default_rule_set
from services.scoring.models import metadata, rule_sets
from services.scoring.rulesets import (
    get_rule_set,
    publish_rule_set,
    rule_set_for,
    rule_set_version,
)
from shared.errors import status_of
from shared.timezone import china_today
from shared.usecases import Forbidden, Invalid
from tests.fakes import FakeUnitOfWork, actor

J = "630102"
CITY = actor("admin", "630100")


def body(**targets) -> dict:
    b = default_rule_set()
    b["name"] = "城东区考核细则"
    b["targets"].update(targets)
    return b


def publish(uow, jurisdiction=J, who=CITY, effective_from=None, rule_set=None) -> dict:
    return publish_rule_set(
        uow,
        who,
        jurisdiction,
        {"effective_from": effective_from or china_today(), "rule_set": rule_set or body()},
        correlation_id="cid-r",
    )


def test_table_a1_applies_where_nothing_was_published(uow):
    out = get_rule_set(uow, actor("district", J), J)
    assert (out["source"], out["version"], out["versions"]) == ("default", 0, [])
    assert out["rule_set"] == DEFAULT_RULE_SET
    assert len(out["notes"]) == 1  # satisfaction declares 20, gives 10


def test_a_published_version_is_stored_announced_and_in_force(uow):
    out = publish(uow, rule_set=body(base_tech_smes=12))
    assert (out["jurisdiction"], out["source"], out["version"]) == (J, J, 1)
    assert out["rule_set"]["targets"]["base_tech_smes"] == 12
    [v] = out["versions"]
    assert set(v) == {"version", "effective_from", "published_by", "published_at"}
    assert (v["version"], v["published_by"]) == (1, "k-admin")
    [event] = uow.committed
    assert event.event_type == "scoring.rule_set_published"
    p = event.payload
    assert (p["jurisdiction"], p["version"], p["actor"]) == (J, 1, "k-admin")
    assert p["at"] == v["published_at"].isoformat()  # the stored instant, announced
    assert publish(uow)["version"] == 2


def test_the_announcement_rebuilds_the_same_rule_set(uow, tmp_path: Path):
    publish(uow)
    rebuilt = FakeUnitOfWork(metadata, tmp_path / "rebuilt.db")
    with rebuilt:
        h.on_rule_set_published(uow.committed[0], rebuilt)
        rebuilt.commit()

    def rows(u):
        with u.read() as s:
            return [dict(r) for r in s.execute(select(rule_sets)).mappings()]

    assert rows(rebuilt) == rows(uow)


def test_the_nearest_jurisdiction_with_a_version_in_force_wins(uow):
    publish(uow, "630100", rule_set=body(base_tech_smes=40))
    publish(uow, J, effective_from=china_today() + timedelta(days=30))
    today = china_today()
    with uow.read() as s:
        assert rule_set_for(s, J, today)[:2] == ("630100", 1)  # the district's: not yet
        assert rule_set_for(s, J, today + timedelta(days=30))[:2] == (J, 1)
        assert rule_set_for(s, "630103", today + timedelta(days=30))[:2] == ("630100", 1)
        assert rule_set_for(s, "630200", today)[:2] == ("default", 0)


def test_a_version_by_number(uow):
    publish(uow)
    with uow.read() as s:
        assert rule_set_version(s, J, 1)[:2] == (J, 1)
        assert rule_set_version(s, J, 0) == ("default", 0, DEFAULT_RULE_SET)
        with pytest.raises(Invalid) as exc:
            rule_set_version(s, J, 7)
    assert exc.value.fields == {"json": {"version": [f"{J} has no rule set version 7"]}}


def test_an_inconsistent_rule_set_is_refused_naming_each_problem(uow):
    bad = body()
    bad["parts"][0]["items"][0]["cap"] = 50
    with pytest.raises(Invalid) as exc:
        publish(uow, rule_set=bad)
    assert status_of(exc.value) == 422
    assert exc.value.message.startswith("Inconsistent rule set: parts[0].points: ")
    assert set(exc.value.fields["json"]["rule_set"]) == {"parts[0].points"}
    assert uow.committed == []


def test_a_rule_set_takes_effect_today_or_later(uow):
    with pytest.raises(Invalid) as exc:
        publish(uow, effective_from=china_today() - timedelta(days=1))
    assert exc.value.fields == {"json": {"effective_from": ["rules take effect today or later"]}}


def test_a_jurisdiction_is_a_division_code_and_in_the_subtree(uow):
    with pytest.raises(Invalid) as exc:
        get_rule_set(uow, CITY, "63010x")
    assert exc.value.fields == {"path": {"jurisdiction": ["not a unit code"]}}
    with pytest.raises(Forbidden):
        publish(uow, "630200")  # another city
    with pytest.raises(Forbidden):
        get_rule_set(uow, actor("district", J), "630103")  # a sibling's rules
    # the rules above a key are readable (it inherits them), not publishable
    assert get_rule_set(uow, actor("district", J), "630100")["source"] == "default"
    with pytest.raises(Forbidden):
        publish(uow, "630100", who=actor("district", J))


def test_a_park_inherits_its_countys_rule_set_and_may_publish_its_own(uow):
    park = "630102-P0001"
    publish(uow, rule_set=body(base_tech_smes=12))
    inherited = get_rule_set(uow, actor("district", park), park)
    assert (inherited["source"], inherited["version"]) == (J, 1)
    assert get_rule_set(uow, actor("district", park), J)["source"] == J  # above: readable
    own = publish(uow, park, who=actor("admin", park), rule_set=body(base_tech_smes=3))
    assert (own["jurisdiction"], own["source"], own["version"]) == (park, park, 1)
    assert uow.committed[-1].routing_key.endswith(".630102.630102-P0001")
    assert get_rule_set(uow, actor("district", J), f"{park}-W0001")["source"] == park
    with pytest.raises(Forbidden):
        get_rule_set(uow, actor("district", "630102-P0002"), park)  # a sibling park's
