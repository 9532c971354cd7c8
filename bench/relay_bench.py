"""Events/s the outbox relay publishes to a real RabbitMQ, before and after batch confirms.

Starts its own PostgreSQL (durable, as in production) and RabbitMQ, stages a backlog of
``demand.accepted`` rows in intake's outbox, and times the relay publishing it into a
durable queue (persistent messages: every confirm waits for the broker's disk):

* ``relay_per_message``: the relay as it was before issue 14 — each message published
  and its confirm awaited before the next (kombu's ``confirm_publish``);
* ``relay_batch``: the relay now — a batch sent back to back, its confirms awaited once;
* ``pika_confirm_each``: raw pika, ``BlockingChannel.confirm_delivery`` (each publish
  waits for its confirm);
* ``pika_async_confirms``: raw pika, ``SelectConnection`` with asynchronous confirms,
  the same messages in windows of the relay's batch size — the baseline.

Both relay figures include its claim of each batch (one UPDATE … RETURNING over a locking
CTE) and its commit.
Rounds are interleaved (the machine is shared, figures are noisy); the report gives each
variant's median and their ratios to the baseline. Figures are printed, never asserted.
Usage: ``python -m bench.relay_bench [--events 3000] [--rounds 3] [--batch 200]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kombu import Connection, Queue
from sqlalchemy import insert, select

from onestop import migrate
from onestop.localservers import Postgres, RabbitMQ
from services import intake
from shared.config import SERVICES, load_settings
from shared.events import make_event
from shared.messaging import KombuPublisher, Outgoing, Unconfirmed, exchange_for
from shared.runtime import Service

QUEUE = "bench.relay"
PAYLOAD = {
    "demand_code": "630102-2026-000001",
    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
    "category": "technology",
    "title": "高纯材料提纯工艺改进",
    "description": "需要专家协助优化提纯工艺，降低能耗。",
    "source": "online",
    "consent_to_share": False,
    "accepted_at": "2026-01-05T08:00:00+00:00",
    "accepted_by": "bench",
}


class PerMessage:
    """The relay's publishing before batches: one message, one wait for its confirm."""

    def __init__(self, publisher: KombuPublisher) -> None:
        self.publisher = publisher

    def publish_batch(self, messages: Sequence[Outgoing]) -> None:
        for i, m in enumerate(messages):
            try:
                self.publisher.publish(m.exchange, m.routing_key, m.body, m.headers)
            except Exception as exc:
                raise Unconfirmed(i, str(exc)) from exc

    def close(self) -> None:
        self.publisher.close()


def stage(svc: Service, n: int) -> None:
    """``n`` pending rows in intake's outbox, committed at once."""
    rows = []
    for i in range(n):
        ev = make_event(
            "demand.accepted",
            1,
            producer="intake",
            jurisdiction="630102",
            payload={**PAYLOAD, "demand_code": f"630102-2026-{i:06d}"},
        )
        rows.append(
            {
                "event_id": ev.event_id,
                "event_type": ev.event_type,
                "event_version": ev.event_version,
                "producer": ev.producer,
                "routing_key": ev.routing_key,
                "body": ev.to_json(),
                "created_at": ev.occurred_at,
            }
        )
    with svc.db.write_session() as s:
        s.execute(insert(svc.outbox), rows)
        s.commit()


def messages(svc: Service, n: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """What the relay would publish for ``n`` rows (the pika baselines send the same)."""
    stage(svc, n)
    t = svc.outbox
    with svc.db.write_session() as s:
        rows = s.execute(select(t).where(t.c.published_at.is_(None)).order_by(t.c.seq)).all()
        s.execute(t.delete())
        s.commit()
    return [
        (
            f"onestop.{r.producer}",
            r.routing_key,
            r.body,
            {
                "event_type": r.event_type,
                "event_version": r.event_version,
                "event_id": r.event_id,
            },
        )
        for r in rows
    ]


def purge(url: str) -> int:
    with Connection(url) as conn:
        return int(conn.default_channel.queue_purge(QUEUE) or 0)


def timed(run: Callable[[], int]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    n = run()
    return time.perf_counter() - wall, time.process_time() - cpu, n


def relay_run(svc: Service, n: int, factory: Callable[[], Any]) -> tuple[float, float, int]:
    stage(svc, n)
    relay = svc.relay
    relay._close_publisher()
    relay._publisher_factory = factory
    relay._publisher = factory()  # the connection is opened before the clock starts

    def run() -> int:
        total = 0
        while sent := relay.publish_pending():
            total += sent
        return total

    result = timed(run)
    assert relay.pending() == 0
    return result


def pika_confirm_each(url: str, msgs: list) -> tuple[float, float, int]:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()

    def run() -> int:
        for exchange, key, body, headers in msgs:
            ch.basic_publish(exchange, key, body, properties(headers))
        return len(msgs)

    try:
        return timed(run)
    finally:
        conn.close()


def pika_async_confirms(url: str, msgs: list, window: int) -> tuple[float, float, int]:
    """Raw pika with asynchronous confirms: a window published, its acks awaited, the
    next window published from the ack callback."""
    import pika

    state: dict[str, Any] = {"sent": 0, "acked": 0, "nacked": 0}

    def send_window() -> None:
        start, end = state["sent"], min(state["sent"] + window, len(msgs))
        for exchange, key, body, headers in msgs[start:end]:
            state["channel"].basic_publish(exchange, key, body, properties(headers))
        state["sent"] = end

    def on_confirm(frame: Any) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            state["nacked"] += 1
        state["acked"] = max(state["acked"], method.delivery_tag)  # one queue: in order
        if state["acked"] == state["sent"]:
            if state["sent"] == len(msgs):
                state["elapsed"] = time.perf_counter() - state["t0"]
                state["cpu"] = time.process_time() - state["c0"]
                state["connection"].close()
            else:
                send_window()

    def on_channel(ch: Any) -> None:
        state["channel"] = ch

        def start(_: Any) -> None:
            state["t0"], state["c0"] = time.perf_counter(), time.process_time()
            send_window()

        ch.confirm_delivery(on_confirm, callback=start)

    conn = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, reason: c.ioloop.stop(),
    )
    state["connection"] = conn
    conn.ioloop.start()
    assert state["nacked"] == 0 and "elapsed" in state, state
    return state["elapsed"], state["cpu"], len(msgs)


def properties(headers: dict[str, Any]) -> Any:
    import pika

    return pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        headers=headers,
        message_id=headers["event_id"],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=200, help="the relay's batch (and pika window)")
    args = ap.parse_args()
    pg = Postgres(base=Path(tempfile.mkdtemp(prefix="onestop-bench-pg-"))).start()
    mq = RabbitMQ().start()
    try:
        env = {"ONESTOP_DATA_DIR": tempfile.mkdtemp(), "ONESTOP_BROKER_URL": mq.url}
        for name in SERVICES:
            env[f"ONESTOP_{name.upper()}_DATABASE_URL"] = pg.create_database(f"relay_{name}")
        settings = load_settings(env)
        migrate.upgrade(settings, ("intake",))
        svc = intake.build(settings)
        svc.relay.notify = lambda: None  # type: ignore[method-assign]  # timed by hand
        svc.relay.batch = args.batch
        with Connection(mq.url) as conn:
            Queue(QUEUE, exchange=exchange_for("intake"), routing_key="#", durable=True)(
                conn.default_channel
            ).declare()
        msgs = messages(svc, args.events)
        url = mq.url
        pika_url = url.removesuffix("//") + "/%2F"  # kombu's "//" is pika's "/%2F": vhost "/"
        variants: dict[str, Callable[[], tuple[float, float, int]]] = {
            "relay_per_message": lambda: relay_run(
                svc, args.events, lambda: PerMessage(KombuPublisher(url))
            ),
            "relay_batch": lambda: relay_run(svc, args.events, lambda: KombuPublisher(url)),
            "pika_confirm_each": lambda: pika_confirm_each(pika_url, msgs),
            "pika_async_confirms": lambda: pika_async_confirms(pika_url, msgs, args.batch),
        }
        rates: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                elapsed, cpu_s, n = variants[name]()
                routed = purge(url)
                assert routed == n, (name, routed, n)  # every message reached the queue
                rates[name].append(n / elapsed)
                cpu[name].append(cpu_s / n * 1e6)
        svc.relay.stop()
        median = {k: statistics.median(v) for k, v in rates.items()}
        base = median["pika_async_confirms"]
        report = {
            "events": args.events,
            "batch": args.batch,
            "rounds": args.rounds,
            "events_per_s": {k: round(v, 1) for k, v in median.items()},
            "events_per_s_each_round": {k: [round(x) for x in v] for k, v in rates.items()},
            "client_cpu_us_per_event": {k: round(statistics.median(v)) for k, v in cpu.items()},
            "ratio_to_pika_async_confirms": {k: round(v / base, 3) for k, v in median.items()},
            "relay_batch_over_per_message": round(
                median["relay_batch"] / median["relay_per_message"], 2
            ),
        }
        print(json.dumps(report, indent=2))
    finally:
        mq.destroy()
        pg.destroy()


if __name__ == "__main__":
    main()
