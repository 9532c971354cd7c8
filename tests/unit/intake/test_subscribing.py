"""Callbacks' use cases and delivery job on a fake unit of work, with a fake receiver and
clock: registration, the delivery a status change leaves, in-order delivery with back-off,
dead letters, claims, the log and re-sending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from services.intake import delivery, subscribing
from services.intake.callbacks import Schedule
from services.intake.loop import change_status
from services.intake.models import callback_deliveries, callback_subscriptions
from shared.errors import status_of
from shared.usecases import Conflict, Invalid, NotFound
from tests.fakes import actor
from tests.unit.intake.test_callbacks import receiver

FILER = actor("district", key_id="k-district")
OTHER = actor("district", key_id="k-other")
SCHEDULE = Schedule(base=10, cap=40, attempts=4)


class Clock:
    """Starts a moment after the changes were made (they are stamped with the real time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receiver:
    """A fake receiving system: down (no answer) until ``up``; keeps what it verified."""

    def __init__(self, secret: str, clock: Clock) -> None:
        self.secret, self.clock = secret, clock
        self.up = True
        self.status = 204
        self.got: list[dict] = []
        self.calls = 0

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        self.calls += 1
        if not self.up:
            raise ConnectionError("connection refused")
        event = receiver().verify(self.secret, headers, body, now=self.clock().timestamp())
        self.got.append(event)
        return self.status


def register(uow, who=FILER, url="https://district.example/cb"):
    return subscribing.register(uow, who, {"url": url})


def step(uow, code, to, **more):
    change_status(uow, FILER, code, {"to": to, "note": to, **more})


def deliver(uow, post, clock, schedule=SCHEDULE):
    return delivery.deliver_due(lambda: uow, schedule=schedule, post=post, clock=clock)


def rows(uow):
    with uow.read() as s:
        return s.execute(select(callback_deliveries).order_by(callback_deliveries.c.id)).all()


# -- registering --------------------------------------------------------------------------
def test_registering_answers_the_secret_once_and_keeps_it_sealed(uow):
    made = register(uow)
    assert made["url"] == "https://district.example/cb" and made["secret"].startswith("whsec_")
    with uow.read() as s:
        stored = s.execute(select(callback_subscriptions)).one()
    assert stored.key_id == "k-district" and made["secret"] not in stored.secret
    assert subscribing.sealer().open(stored.secret) == made["secret"]
    shown = subscribing.get(uow, FILER)
    assert shown["url"] == made["url"] and "secret" not in shown


def test_registering_again_replaces_the_url_and_the_secret(uow):
    first = register(uow)
    again = register(uow, url="https://district.example/v2")
    assert again["secret"] != first["secret"] and again["created_at"] == first["created_at"]
    assert subscribing.get(uow, FILER)["url"] == "https://district.example/v2"


def test_a_url_that_is_not_https_is_refused_naming_the_field(uow):
    with pytest.raises(Invalid) as refused:
        register(uow, url="http://district.example/cb")
    assert status_of(refused.value) == 422
    assert "https" in refused.value.fields["json"]["url"][0]
    with pytest.raises(Invalid):
        register(uow, url="http://127.0.0.1:9/cb")  # loopback only where allowed
    loop = subscribing.register(uow, FILER, {"url": "http://127.0.0.1:9/cb"}, loopback_http=True)
    assert loop["url"] == "http://127.0.0.1:9/cb"


def test_a_key_without_a_callback_has_none_to_read_or_remove(uow):
    with pytest.raises(NotFound):
        subscribing.get(uow, FILER)
    with pytest.raises(NotFound):
        subscribing.unregister(uow, FILER)


# -- what a status change leaves ----------------------------------------------------------
def test_a_status_change_is_queued_for_the_key_that_filed_the_demand_only(uow, accept):
    mine = accept(by=FILER)["code"]
    theirs = accept(by=OTHER)["code"]
    step(uow, mine, "in_progress")  # no callback yet: nothing queued
    register(uow)
    step(uow, mine, "feedback")
    step(uow, theirs, "in_progress")  # filed by a key without a callback
    (queued,) = rows(uow)
    assert (queued.key_id, queued.demand_code, queued.status) == ("k-district", mine, "pending")
    event = json.loads(queued.body)
    assert event["event_id"] == queued.event_id == uow.committed[-2].event_id  # as on the bus
    assert event["event_type"] == "demand.status_changed"
    assert (event["payload"]["from_status"], event["payload"]["to_status"]) == (
        "in_progress",
        "feedback",
    )


# -- delivering ---------------------------------------------------------------------------
def test_every_change_arrives_once_in_order_per_demand_after_the_receiver_was_down(uow, accept):
    secret = register(uow)["secret"]
    codes = [accept(by=FILER)["code"] for _ in range(2)]
    for code in codes:
        for to in ("in_progress", "feedback"):
            step(uow, code, to)
    step(uow, codes[0], "closed", resolution="solved")
    clock = Clock()
    post = Receiver(secret, clock)
    post.up = False
    deliver(uow, post, clock)
    assert post.calls == 2  # the head of each demand only: later changes wait behind it
    clock.tick(9)
    deliver(uow, post, clock)
    assert post.calls == 2  # not before the back-off
    clock.tick(1)
    deliver(uow, post, clock)
    assert post.calls == 4 and [r.attempts for r in rows(uow)][:1] == [2]
    post.up = True
    clock.tick(20)
    deliver(uow, post, clock)
    assert {r.status for r in rows(uow)} == {"delivered"}
    by_demand = {
        c: [e["payload"]["to_status"] for e in post.got if e["payload"]["demand_code"] == c]
        for c in codes
    }
    assert by_demand == {
        codes[0]: ["in_progress", "feedback", "closed"],
        codes[1]: ["in_progress", "feedback"],
    }
    assert len({e["event_id"] for e in post.got}) == len(post.got) == 5
    deliver(uow, post, clock)
    assert len(post.got) == 5  # nothing twice


def test_a_change_is_dead_lettered_after_its_attempts_and_the_next_one_goes(uow, accept):
    secret = register(uow)["secret"]
    code = accept(by=FILER)["code"]
    step(uow, code, "in_progress")
    step(uow, code, "feedback")
    clock = Clock()
    post = Receiver(secret, clock)
    post.status = 500
    for wait in (0, 10, 20, 40):  # four attempts: 10 s, 20 s, then 40 s (the cap) apart
        clock.tick(wait)
        deliver(uow, post, clock)
    first, second = rows(uow)
    assert (first.status, first.attempts, first.last_status) == ("dead", 4, 500)
    assert first.last_error == "HTTP 500" and first.settled_at == clock.now
    assert (second.status, second.attempts) == ("pending", 1)  # tried at once, after it
    post.status = 200
    clock.tick(10)
    deliver(uow, post, clock)
    assert (rows(uow)[1].status, rows(uow)[1].attempts) == ("delivered", 2)
    assert [e["payload"]["to_status"] for e in post.got] == ["in_progress"] * 4 + ["feedback"] * 2


def test_a_claimed_delivery_is_not_sent_again_until_its_lease_expires(uow, accept):
    register(uow)
    code = accept(by=FILER)["code"]
    step(uow, code, "in_progress")
    t0 = Clock()()
    held = delivery.claim(uow, t0, t0 + timedelta(seconds=40))
    assert [c.event_id for c in held] == [rows(uow)[0].event_id]
    assert delivery.claim(uow, t0 + timedelta(seconds=39), t0 + timedelta(seconds=80)) == []
    assert len(delivery.claim(uow, t0 + timedelta(seconds=41), t0 + timedelta(seconds=90))) == 1


def test_a_removed_callback_dead_letters_what_was_waiting(uow, accept):
    register(uow)
    code = accept(by=FILER)["code"]
    step(uow, code, "in_progress")
    subscribing.unregister(uow, FILER)
    (dead,) = rows(uow)
    assert (dead.status, dead.last_error) == ("dead", "callback removed")


def test_a_revoked_key_hears_nothing_more(uow, accept):
    from sqlalchemy import insert

    from services.intake.models import api_keys

    secret = register(uow)["secret"]
    code = accept(by=FILER)["code"]
    step(uow, code, "in_progress")
    with uow:
        uow.session.execute(
            insert(api_keys).values(
                key_id="k-district",
                secret_sha256="0" * 64,
                name="district system",
                role="district",
                jurisdiction="630102",
                created_at=datetime.now(UTC),
                revoked_at=datetime.now(UTC),
            )
        )
        uow.commit()
    clock = Clock()
    post = Receiver(secret, clock)
    deliver(uow, post, clock)
    (dead,) = rows(uow)
    assert (dead.status, dead.last_error) == ("dead", "the key is revoked")
    assert post.calls == 0


# -- the log and re-sending ---------------------------------------------------------------
def _delivered_and_dead(uow, accept):
    secret = register(uow)["secret"]
    code = accept(by=FILER)["code"]
    step(uow, code, "in_progress")
    clock = Clock()
    post = Receiver(secret, clock)
    deliver(uow, post, clock)
    step(uow, code, "feedback")
    uow_rows = rows(uow)
    with uow:
        uow.session.execute(
            update(callback_deliveries)
            .where(callback_deliveries.c.id == uow_rows[1].id)
            .values(status="dead", settled_at=clock.now)
        )
        uow.commit()
    return code, post, clock


def test_the_log_shows_the_keys_own_deliveries_newest_first_a_page_at_a_time(uow, accept):
    code, _, _ = _delivered_and_dead(uow, accept)
    page = subscribing.log(uow, FILER, {"limit": 1})
    (newest,) = page["items"]
    assert newest["status"] == "dead" and newest["event"]["payload"]["to_status"] == "feedback"
    rest = subscribing.log(uow, FILER, {"limit": 1, "cursor": page["next_cursor"]})
    assert [d["status"] for d in rest["items"]] == ["delivered"] and rest["next_cursor"] is None
    assert rest["items"][0]["attempts"] == 1 and rest["items"][0]["last_status"] == 204
    assert [
        d["status"] for d in subscribing.log(uow, FILER, {"limit": 9, "status": "dead"})["items"]
    ] == ["dead"]
    assert subscribing.log(uow, FILER, {"limit": 9, "demand_code": code})["items"]
    assert subscribing.log(uow, OTHER, {"limit": 9})["items"] == []


def test_a_delivered_or_dead_change_is_re_sent_once_with_its_id(uow, accept):
    _, post, clock = _delivered_and_dead(uow, accept)
    delivered, dead = rows(uow)
    again = subscribing.resend(uow, FILER, dead.id)
    assert again["status"] == "pending" and again["resend_of"] == dead.id
    assert again["event_id"] == dead.event_id
    with pytest.raises(Conflict):
        subscribing.resend(uow, FILER, dead.id)  # its re-send is still pending
    with pytest.raises(Conflict):
        subscribing.resend(uow, FILER, again["id"])  # pending itself
    with pytest.raises(NotFound):
        subscribing.resend(uow, OTHER, delivered.id)  # another key's
    subscribing.resend(uow, FILER, delivered.id)
    clock.tick(1)
    deliver(uow, post, clock)
    assert [e["payload"]["to_status"] for e in post.got] == [
        "in_progress",
        "feedback",
        "in_progress",
    ]
    assert post.got[1]["event_id"] == dead.event_id
    assert subscribing.resend(uow, FILER, again["id"])["resend_of"] == again["id"]  # delivered
