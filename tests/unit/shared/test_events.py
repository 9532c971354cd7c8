import json
import uuid

import pytest
from marshmallow import ValidationError

from shared.events import (
    UnknownEvent,
    in_subtree,
    jurisdiction_path,
    make_event,
    parse_event,
    register,
    routing_key,
    subtree_binding,
    subtree_prefix,
)
from tests.factories import accepted_payload


def test_jurisdiction_path_follows_gbt2260_levels():
    assert jurisdiction_path("630102") == ["630000", "630100", "630102"]
    assert jurisdiction_path("630100") == ["630000", "630100"]
    assert jurisdiction_path("630000") == ["630000"]
    assert jurisdiction_path("110101") == ["110000", "110100", "110101"]
    with pytest.raises(ValueError):
        jurisdiction_path("63010")
    with pytest.raises(ValueError):
        jurisdiction_path("063010")


def test_subtree_membership_never_crosses_siblings():
    assert in_subtree("630102", "630100")
    assert in_subtree("630102", "630000")
    assert in_subtree("630102", "630102")
    assert not in_subtree("630103", "630102")
    assert not in_subtree("630100", "630102")
    assert not in_subtree("620102", "630000")
    assert subtree_prefix("630000") == "63"
    assert subtree_prefix("630100") == "6301"
    assert subtree_prefix("630102") == "630102"
    assert subtree_prefix("500000") == "50"


def test_routing_key_carries_the_jurisdiction_path():
    assert routing_key("demand.accepted", "630102") == "demand.accepted.630000.630100.630102"
    assert subtree_binding("demand.accepted", "630100") == "demand.accepted.630000.630100.#"


def test_make_and_parse_round_trip_keeps_the_envelope():
    ev = make_event(
        "demand.accepted",
        1,
        producer="intake",
        jurisdiction="630102",
        payload=accepted_payload(),
        correlation_id="corr-1",
    )
    data = json.loads(ev.to_json())
    assert set(data) == {
        "event_id",
        "event_type",
        "event_version",
        "occurred_at",
        "producer",
        "correlation_id",
        "jurisdiction",
        "payload",
    }
    uuid.UUID(data["event_id"])
    back = parse_event(ev.to_json())
    assert back.event_id == ev.event_id
    assert back.correlation_id == "corr-1"
    assert back.payload == ev.payload
    assert back.occurred_at == ev.occurred_at


def test_payload_is_validated_on_both_ends():
    with pytest.raises(ValidationError) as err:
        make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload=accepted_payload(category="astrology"),
        )
    assert "category" in err.value.messages["payload"]
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    )
    body = ev.to_dict()
    del body["payload"]["title"]
    with pytest.raises(ValidationError) as err:
        parse_event(body)
    assert "title" in err.value.messages["payload"]


def test_envelope_rejects_unknown_fields_and_bad_values():
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    ).to_dict()
    for bad in (
        {"extra": 1},
        {"event_id": "nope"},
        {"jurisdiction": "63"},
        {"occurred_at": "2026-01-01T00:00:00"},
        {"event_version": "1"},
    ):
        with pytest.raises(ValidationError):
            parse_event({**ev, **bad})
    with pytest.raises(ValidationError):
        parse_event(b"not json")
    with pytest.raises(ValidationError):
        parse_event("[1, 2]")


def test_registry_knows_versions_and_refuses_duplicates():
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    ).to_dict()
    with pytest.raises(UnknownEvent):
        parse_event({**ev, "event_version": 99})
    from marshmallow import Schema

    with pytest.raises(ValueError):
        register("demand.accepted", 1, Schema())
    with pytest.raises(ValueError):
        register("DemandAccepted", 1, Schema())


def test_a_newer_producers_optional_fields_are_tolerated_and_kept():
    ev = make_event(
        "demand.accepted", 1, producer="intake", jurisdiction="630102", payload=accepted_payload()
    ).to_dict()
    ev["payload"]["added_in_a_later_release"] = {"x": 1}
    back = parse_event(ev)
    assert back.payload["added_in_a_later_release"] == {"x": 1}  # the archive keeps it
    with pytest.raises(ValidationError):  # but a producer must send its own contract
        make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload={**accepted_payload(), "added_in_a_later_release": 1},
        )


def test_a_contract_builds_its_events_with_producer_and_version_set_once():
    from shared.contracts import intake as contract

    ev = contract.demand_accepted(
        jurisdiction="630102", payload=accepted_payload(), correlation_id="c-1"
    )
    assert (ev.producer, ev.event_type, ev.event_version) == ("intake", "demand.accepted", 1)
    assert ev.routing_key == "demand.accepted.630000.630100.630102"
    assert ev.correlation_id == "c-1"
    with pytest.raises(ValidationError):  # the payload is still checked against the schema
        contract.demand_accepted(jurisdiction="630102", payload={"demand_code": "x"})


def test_every_contract_module_builds_only_its_own_producers_events():
    import shared.contracts as contracts
    from shared.events import Contract

    for name in ("intake", "dispatch", "visits", "scoring"):
        module = getattr(contracts, name)
        built = [v for v in vars(module).values() if isinstance(v, Contract)]
        assert built and {c.producer for c in built} == {name}


def test_a_fake_unit_of_work_keeps_what_was_committed_only(tmp_path):
    from services.intake.models import metadata
    from shared.contracts import intake as contract
    from tests.fakes import FakeUnitOfWork

    uow = FakeUnitOfWork(metadata, tmp_path / "i.db")
    with uow:
        uow.emit(contract.demand_accepted(jurisdiction="630102", payload=accepted_payload()))
    assert uow.committed == []  # left without commit: rolled back
    with uow:
        uow.emit(contract.demand_accepted(jurisdiction="630102", payload=accepted_payload()))
        uow.commit()
    assert uow.types() == ["demand.accepted"] and uow.commits == 1


def test_an_event_made_while_handling_a_request_or_event_carries_its_correlation_id():
    from shared.logs import scope

    def made(**kw):
        return make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload=accepted_payload(),
            **kw,
        )

    with scope("req-9"):
        assert made().correlation_id == "req-9"  # a handler that did not pass it on
        assert made(correlation_id="given").correlation_id == "given"
    outside = made().correlation_id  # a periodic job's: a new one
    assert outside not in ("req-9", "-") and len(outside) == 36
