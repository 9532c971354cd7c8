"""What a quorum queue costs against a classic one, on the same broker in the same run.

For each round, a classic and a quorum queue (the order alternating between rounds),
each declared with the arguments the platform uses (``shared.messaging``), bound to a
topic exchange like a consumer queue:

* ``publish_per_s``: persistent event-sized messages published in batches of 100 with
  publisher confirms (``KombuPublisher.publish_batch``, the outbox relay's path);
* ``consume_per_s``: the same messages consumed with prefetch 20 and one ack each
  (``shared.consumer``'s way);
* ``latency_ms``: from a confirmed publish to the consumer receiving the message, at
  an offered ``--rate`` (p50/p95/p99).

On one local node by default, or ``--cluster 3`` on a cluster of local nodes (quorum
queues replicated on each). Figures are printed as JSON, never asserted:
``python -m bench.quorum_cost --rounds 3``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import threading
import time
from typing import Any

from kombu import Connection, Exchange, Queue

from onestop.localservers import RabbitCluster, RabbitMQ
from shared.messaging import DLX, KombuPublisher, Outgoing, quorum_arguments

EXCHANGE = Exchange("onestop.bench", type="topic", durable=True)
BODY = json.dumps({"payload": {"description": "需要改进锂电池正极材料烧结工艺，降低能耗。" * 12}})


def arguments(kind: str, name: str) -> dict[str, Any]:
    if kind == "quorum":
        return quorum_arguments(name)
    return {"x-dead-letter-exchange": DLX.name, "x-dead-letter-routing-key": name}


def declare(url: str, kind: str, name: str) -> None:
    with Connection(url) as conn:
        args = arguments(kind, name)
        queue = Queue(name, EXCHANGE, routing_key=f"{name}.#", durable=True, queue_arguments=args)
        queue(conn.default_channel).declare()


def delete(url: str, name: str) -> None:
    with Connection(url) as conn:
        conn.default_channel.queue_delete(queue=name)


def publish(url: str, name: str, n: int) -> float:
    pub = KombuPublisher(url)
    batch = [Outgoing(EXCHANGE, f"{name}.x", BODY, {"i": i}) for i in range(100)]
    start = time.perf_counter()
    for _ in range(n // 100):
        pub.publish_batch(batch)
    elapsed = time.perf_counter() - start
    pub.close()
    return n / elapsed


def consume(url: str, name: str, n: int) -> float:
    got = 0
    with Connection(url) as conn:

        def on_message(body: Any, message: Any) -> None:
            nonlocal got
            message.ack()
            got += 1

        q = Queue(name, no_declare=True)  # declared with its arguments by ``declare``
        with conn.Consumer([q], callbacks=[on_message], accept=["json"]) as c:
            c.qos(prefetch_count=20)
            start = time.perf_counter()
            deadline = time.monotonic() + 120
            while got < n and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=1)
            return got / (time.perf_counter() - start)


def latency(url: str, name: str, n: int, rate: float) -> dict[str, float]:
    seen: dict[int, float] = {}
    ready, stop = threading.Event(), threading.Event()

    def run() -> None:
        with Connection(url) as conn:

            def on_message(body: Any, message: Any) -> None:
                seen[int(message.headers["i"])] = time.perf_counter()
                message.ack()

            q = Queue(name, no_declare=True)  # declared with its arguments by ``declare``
            with conn.Consumer([q], callbacks=[on_message], accept=["json"]) as c:
                c.qos(prefetch_count=20)
                ready.set()
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.2)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(10)
    pub = KombuPublisher(url)
    sent: dict[int, float] = {}
    start = time.perf_counter()
    for i in range(n):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        sent[i] = time.perf_counter()
        pub.publish(EXCHANGE, f"{name}.x", BODY, {"i": i})
    pub.close()
    deadline = time.monotonic() + 30
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join(5)
    lat = sorted((seen[i] - sent[i]) * 1000 for i in sent if i in seen)
    q = statistics.quantiles(lat, n=100)
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2)}


def one(url: str, kind: str, name: str, messages: int, rate: float) -> dict[str, Any]:
    declare(url, kind, name)
    try:
        pub = publish(url, name, messages)
        con = consume(url, name, messages)
        lat = latency(url, name, max(100, int(rate * 5)), rate)
    finally:
        delete(url, name)
    return {"publish_per_s": round(pub), "consume_per_s": round(con), "latency_ms": lat}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(get: Any) -> float:
        return round(statistics.median(get(r) for r in rows), 2)

    return {
        "publish_per_s": med(lambda r: r["publish_per_s"]),
        "consume_per_s": med(lambda r: r["consume_per_s"]),
        "latency_ms": {p: med(lambda r, p=p: r["latency_ms"][p]) for p in ("p50", "p95", "p99")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=5000, help="per throughput run")
    ap.add_argument("--rate", type=float, default=200, help="offered messages/s for latency")
    ap.add_argument("--cluster", type=int, default=1, help="nodes (1: a single node)")
    a = ap.parse_args()
    server: RabbitMQ | RabbitCluster = (
        RabbitCluster(size=a.cluster) if a.cluster > 1 else RabbitMQ()
    )
    server.start()
    url = server.url
    runs: dict[str, list[dict[str, Any]]] = {"classic": [], "quorum": []}
    try:
        with Connection(url) as conn:
            EXCHANGE(conn.default_channel).declare()
            DLX(conn.default_channel).declare()
        for r in range(a.rounds):
            order = ("classic", "quorum") if r % 2 == 0 else ("quorum", "classic")
            for kind in order:
                row = one(url, kind, f"bench.{kind}.{r}", a.messages, a.rate)
                runs[kind].append(row)
                print(json.dumps({"round": r, "kind": kind, **row}), flush=True)
        report = {
            "broker": f"RabbitMQ, {a.cluster} node(s) on loopback",
            "messages": a.messages,
            "rate": a.rate,
            "rounds": a.rounds,
            "median": {k: summary(v) for k, v in runs.items()},
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
