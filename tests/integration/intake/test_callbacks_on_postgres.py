"""Callback deliveries on PostgreSQL with several delivery jobs at once: each change is sent
once, never two of one demand at the same time, and in order per demand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import delivery, subscribing
from services.intake.accepting import AcceptDemand, accept_demand
from services.intake.callbacks import Schedule
from services.intake.loop import change_status
from services.intake.schemas import DemandIn
from tests.factories import DEMO_DEMAND
from tests.fakes import actor
from tests.integration.intake.test_accepting_on_postgres import svc, uow_of  # noqa: F401
from tests.unit.intake.test_callbacks import receiver

pytestmark = pytest.mark.integration
FILER = actor("district", key_id="k-district")
LOOP = (("in_progress", {}), ("feedback", {}), ("closed", {"resolution": "solved"}))


def test_four_delivery_jobs_at_once_send_each_change_once_in_order(svc):  # noqa: F811
    secret = subscribing.register(uow_of(svc), FILER, {"url": "https://district.example/cb"})[
        "secret"
    ]
    codes = []
    for _ in range(12):
        made = accept_demand(
            uow_of(svc), FILER, AcceptDemand(DemandIn().load(DEMO_DEMAND)), correlation_id="c"
        )
        codes.append(made["code"])
        for to, more in LOOP:
            change_status(uow_of(svc), FILER, made["code"], {"to": to, "note": "", **more})

    verify = receiver().verify
    lock = threading.Lock()
    got: list[tuple[str, str]] = []
    in_flight: dict[str, int] = {}
    overlaps = []

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        event = verify(secret, headers, body)
        code = event["payload"]["demand_code"]
        with lock:
            in_flight[code] = in_flight.get(code, 0) + 1
            if in_flight[code] > 1:
                overlaps.append(code)
        time.sleep(0.01)  # the receiver takes a moment: the jobs overlap
        with lock:
            in_flight[code] -= 1
            got.append((code, event["payload"]["to_status"]))
        return 204

    later = datetime.now(UTC) + timedelta(seconds=1)
    jobs = [
        threading.Thread(
            target=delivery.deliver_due,
            args=(lambda: uow_of(svc),),
            kwargs={"schedule": Schedule(), "post": post, "clock": lambda: later},
        )
        for _ in range(4)
    ]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(60)
    # whatever a job found claimed by another is left to it: run once more to finish
    delivery.deliver_due(lambda: uow_of(svc), schedule=Schedule(), post=post, clock=lambda: later)
    assert overlaps == []
    assert len(got) == len(set(got)) == 3 * len(codes)  # each change once
    for code in codes:
        assert [to for c, to in got if c == code] == [to for to, _ in LOOP]
