"""The alliance's members as use cases over a fake unit of work (its directory keeps the
keys admission makes) and a fake broker passed in explicitly: admission, rank basis,
pause, exit."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from services.dispatch import membership
from services.dispatch.broker import AgencyBroker, ProvisioningError, new_credentials, queue_name
from services.dispatch.models import agencies, api_keys
from shared.directory import LocalDirectory
from shared.timezone import china_today
from tests.fakes import actor

CITY = actor("admin", "630100")
COUNTY = actor("district", "630102")


@dataclass(frozen=True)
class FakeBroker(AgencyBroker):
    """RabbitMQ with users (``users``) or the embedded broker; ``fail``: it is down."""

    settings: Any = None
    users: bool = True
    fail: bool = False
    provisioned: list = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return not self.users

    def credentials(self, agency_id):
        return new_credentials(agency_id) if self.users else None

    def provision(self, agency_id, password_hash):
        if self.fail:
            raise ProvisioningError("the broker is down")
        self.provisioned.append((agency_id, password_hash))
        return {"queue": queue_name(agency_id), "user_provisioned": password_hash is not None}

    def url(self, username):
        return f"amqp://{username}@broker:5672/%2F"


def body(**over):
    return {
        "id": "ag-pat-9",
        "name": "测试机构",
        "category": "patent",
        "city": "630100",
        "rank_basis": 10,
        "engagements_two_years": 6,
        **over,
    }


def keys_in(uow):
    """The keys in dispatch's own copy (admission puts the agency's there at once)."""
    with uow.read() as s:
        return [dict(r) for r in s.execute(select(api_keys)).mappings()]


def admit(uow, data, broker=None, who=CITY):
    return membership.admit(uow, who, data, broker=broker or FakeBroker(), correlation_id="c")


def test_admission_checks_the_criteria_the_city_and_the_actor(uow, refusal):
    status, e = refusal(lambda: admit(uow, body(engagements_two_years=4)))
    assert status == 422 and "at least 5" in e.fields["json"]["engagements_two_years"][0]
    status, e = refusal(lambda: admit(uow, body(city="630300"), who=actor("admin", "630000")))
    assert (status, e.message) == (422, "Unknown city 630300.")
    status, e = refusal(lambda: admit(uow, body(city="63x")))
    assert status == 422 and list(e.fields["json"]) == ["city"]
    status, e = refusal(lambda: admit(uow, body(), who=COUNTY))
    assert (status, e.message) == (403, "City 630100 is outside your subtree.")
    assert keys_in(uow) == [] and uow.committed == []


def test_an_admitted_agency_gets_its_key_queue_and_read_only_user_once(uow, refusal):
    broker = FakeBroker()
    out = admit(uow, body(), broker)
    assert out["api_key"].startswith("osk_") and out["status"] == "active"
    principal = LocalDirectory(uow.db, cache_seconds=0).authenticate(out["api_key"])
    assert (principal.role, principal.agency_id) == ("agency", "ag-pat-9")
    b = out["broker"]
    assert (b["queue"], b["username"]) == ("agency.ag-pat-9", "agency-ag-pat-9")
    assert b["password"] and b["url"] == "amqp://agency-ag-pat-9@broker:5672/%2F"
    [(agency_id, password_hash)] = broker.provisioned
    assert agency_id == "ag-pat-9" and password_hash != b["password"]
    with uow.read() as s:
        row = s.execute(select(agencies)).mappings().one()
    assert (row["broker_user"], row["broker_password_hash"]) == ("agency-ag-pat-9", password_hash)
    assert uow.types() == ["agency.key_issued", "agency.status_changed"]
    announced = uow.committed[0].payload
    assert announced["agency_id"] == "ag-pat-9" and out["api_key"].split("_")[2] not in str(
        announced
    )
    assert uow.committed[1].payload["reason"] == "admitted with 6 engagements"
    status, e = refusal(lambda: admit(uow, body(), broker))
    assert status == 409 and e.fields == {"json": {"id": ["taken"]}}
    assert len(keys_in(uow)) == 1  # the loser made no key


def test_a_broker_failure_leaves_nothing_half_written(uow, refusal):
    status, e = refusal(lambda: admit(uow, body(), FakeBroker(fail=True)))
    assert status == 503 and "the broker is down" in e.message
    assert keys_in(uow) == [] and uow.committed == []  # no key, no announcement
    with uow.read() as s:
        assert s.execute(select(agencies)).all() == []
    assert admit(uow, body())["api_key"].startswith("osk_")  # the same id admitted again


def test_the_embedded_broker_has_no_users(uow):
    b = admit(uow, body(), FakeBroker(users=False))["broker"]
    assert (b["username"], b["password"], b["url"]) == (None, None, None)
    assert b["note"].startswith("embedded broker")


def test_pause_resume_and_exit_the_last_final(uow, refusal):
    admit(uow, body())
    past = china_today() - timedelta(days=1)
    status, e = refusal(
        lambda: membership.change_status(
            uow, CITY, "ag-pat-9", "pause", {"until": past, "reason": "x"}, correlation_id="c"
        )
    )
    assert status == 422 and e.fields == {"json": {"until": ["in the past"]}}
    until = china_today() + timedelta(days=3)
    paused = membership.change_status(
        uow, CITY, "ag-pat-9", "pause", {"until": until, "reason": "整改"}, correlation_id="c"
    )
    assert (paused["status"], paused["paused_until"]) == ("paused", until)
    resumed = membership.change_status(uow, CITY, "ag-pat-9", "resume", {}, correlation_id="c")
    assert (resumed["status"], resumed["status_reason"]) == ("active", "resumed")
    exited = membership.change_status(
        uow,
        CITY,
        "ag-pat-9",
        "exit",
        {"ground": "low_quality", "note": "整改无效"},
        correlation_id="c",
    )
    assert exited["status"] == "exited" and "第二十二条第三项" in exited["status_reason"]
    status, e = refusal(
        lambda: membership.change_status(uow, CITY, "ag-pat-9", "resume", {}, correlation_id="c")
    )
    assert status == 409 and "final" in e.message
    changes = [e.payload["to_status"] for e in uow.committed if "to_status" in e.payload]
    assert changes == ["active", "paused", "active", "exited"]
    status, _ = refusal(
        lambda: membership.change_status(uow, CITY, "nobody", "resume", {}, correlation_id="c")
    )
    assert status == 404


def test_an_agency_reads_itself_and_managers_set_the_rank_basis(uow, refusal):
    admit(uow, body())
    admit(uow, body(id="ag-fin-1", category="finance"))
    itself = actor("agency", "630100", agency_id="ag-pat-9")
    assert [a["id"] for a in membership.list_agencies(uow, itself, {})] == ["ag-pat-9"]
    status, e = refusal(lambda: membership.get_agency(uow, itself, "ag-fin-1"))
    assert (status, e.message) == (403, "An agency key reads only its own agency.")
    assert [a["id"] for a in membership.list_agencies(uow, COUNTY, {"category": "finance"})] == []
    assert [a["id"] for a in membership.list_agencies(uow, CITY, {"category": "finance"})] == [
        "ag-fin-1"
    ]
    assert membership.set_rank_basis(uow, CITY, "ag-pat-9", {"rank_basis": 77})["rank_basis"] == 77
    status, _ = refusal(
        lambda: membership.set_rank_basis(uow, COUNTY, "ag-pat-9", {"rank_basis": 1})
    )
    assert status == 404  # a county key does not see the city's members
    assert "broker_password_hash" not in membership.get_agency(uow, CITY, "ag-pat-9")


def test_an_alliance_belongs_to_the_unit_that_runs_it_at_any_level(uow):
    """A county-level city running its own station (慈溪 330282) admits its own members."""
    out = admit(uow, body(city="630102", id="ag-county-1"))
    assert out["jurisdiction"] == "630102" and out["status"] == "active"


def test_offers_name_the_serving_alliance_members_without_their_internals(uow, refusal):
    """企业点单: anyone reads who serves what — names, categories, pauses; no internals."""
    admit(uow, body(id="ag-pat-9", rank_basis=10))
    admit(uow, body(id="ag-pat-8", rank_basis=30))
    admit(uow, body(id="ag-rd-9", category="rd"))
    admit(uow, body(id="ag-gone"))
    until = china_today() + timedelta(days=3)
    membership.change_status(
        uow, CITY, "ag-pat-9", "pause", {"until": until, "reason": "满额"}, correlation_id="c"
    )
    membership.change_status(
        uow, CITY, "ag-gone", "exit", {"ground": "reputation", "note": "x"}, correlation_id="c"
    )
    answer = membership.list_offers(uow, "630102-S0001")  # a station below the city
    assert answer["city"] == "630100"
    assert [(o["id"], o["paused"]) for o in answer["items"]] == [
        ("ag-pat-8", False),
        ("ag-pat-9", True),
        ("ag-rd-9", False),
    ]
    assert answer["items"][1]["paused_until"] == until
    assert set(answer["items"][0]) == {"id", "name", "category", "paused", "paused_until"}
    assert membership.list_offers(uow, "630202") == {"city": "630200", "items": []}
    status, e = refusal(lambda: membership.list_offers(uow, "63x"))
    assert status == 422 and list(e.fields["path"]) == ["city"]
