"""Idempotency-Key: a retry gets the first answer (even one the demand would now be
refused), another body is a Conflict, and a key claimed meanwhile answers as the first
request did, undoing what the retry wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, select, update

from services.intake.accepting import AcceptDemand, Filing, accept_demand, store_demand
from services.intake.idempotency import IdempotencyKey, Replayed, keep_response, request_fingerprint
from services.intake.models import (
    demand_sequences,
    demands,
    enterprises,
    idempotency_keys,
    outbox,
)
from services.intake.schemas import DemandIn
from shared.errors import status_of
from shared.usecases import Conflict, Forbidden
from tests.factories import DEMO_DEMAND
from tests.fakes import actor


def command(key, body):
    return AcceptDemand(DemandIn().load(body), IdempotencyKey.of(key, body))


def test_the_fingerprint_ignores_key_order_but_not_values():
    a = request_fingerprint({"title": "t", "source": "online"})
    assert a == request_fingerprint({"source": "online", "title": "t"})
    assert a != request_fingerprint({"source": "online", "title": "u"})


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(uow):
    first = accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    with pytest.raises(Replayed) as again:
        accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    assert json.loads(again.value.body)["code"] == first["code"]
    with uow.read() as s:
        assert len(s.execute(select(demands)).all()) == 1
        stored = s.execute(select(idempotency_keys)).one()
    assert (stored.principal, stored.key, stored.status) == ("k-district", "k1", 201)
    assert uow.commits == 1


def test_a_retry_meets_its_key_first_and_takes_no_number(uow):
    accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    statements: list[str] = []

    def on_statement(_conn, _cursor, statement, *_):
        statements.append(" ".join(statement.split()[:3]))

    event.listen(uow.db.engine, "before_cursor_execute", on_statement)
    try:
        with pytest.raises(Replayed):
            accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    finally:
        event.remove(uow.db.engine, "before_cursor_execute", on_statement)
    assert [s for s in statements if not s.startswith("BEGIN")] == [
        "SELECT idempotency_keys.request_sha256, idempotency_keys.response"
    ]


def test_the_same_key_with_another_body_is_a_conflict(uow):
    accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    other = {**DEMO_DEMAND, "title": "另一个"}
    with pytest.raises(Conflict) as refused:
        accept_demand(uow, actor("district"), command("k1", other), correlation_id="c")
    assert status_of(refused.value) == 409 and refused.value.code == "idempotency_key_reused"
    assert refused.value.fields == {
        "headers": {"Idempotency-Key": ["already used with a different body"]}
    }


def test_keys_belong_to_their_principal(uow):
    accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    other_key = actor("staff")
    second = accept_demand(uow, other_key, command("k1", DEMO_DEMAND), correlation_id="c")
    assert second["code"].endswith("000002")


def test_a_retry_gets_the_first_answer_even_where_it_would_now_be_refused(uow):
    first = accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    with uow:  # meanwhile the enterprise moved out of the key's jurisdiction
        uow.session.execute(update(enterprises).values(jurisdiction="630103"))
        uow.commit()
    with pytest.raises(Replayed) as again:
        accept_demand(uow, actor("district"), command("k1", DEMO_DEMAND), correlation_id="c")
    assert json.loads(again.value.body)["code"] == first["code"]
    with pytest.raises(Forbidden):  # without the key it is refused
        accept_demand(uow, actor("district"), command("k2", DEMO_DEMAND), correlation_id="c")


def test_a_key_claimed_meanwhile_answers_as_the_first_request_and_undoes_the_retry(uow):
    now = datetime.now(UTC)
    key = IdempotencyKey.of("k1", DEMO_DEMAND)
    with uow:  # a concurrent request claimed the key and answered first
        uow.session.execute(
            insert(idempotency_keys).values(
                principal="k-district",
                key="k1",
                request_sha256=key.fingerprint,
                status=201,
                response='{"code": "first"}',
                created_at=now,
            )
        )
        uow.commit()
    with uow, pytest.raises(Replayed) as again:
        values, _ = store_demand(
            uow, DemandIn().load(DEMO_DEMAND), Filing("630102", None), "k-district", "c", now
        )
        keep_response(uow, actor("district"), key, {"code": values["code"]}, now)
    assert again.value.body == '{"code": "first"}'
    with uow.read() as s:  # the retry's demand, number, enterprise and events are gone
        assert s.execute(select(demands)).all() == []
        assert s.execute(select(demand_sequences)).all() == []
        assert s.execute(select(outbox)).all() == []
    assert uow.committed == []
