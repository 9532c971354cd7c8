"""Issue 14's P4: how fast the platform's consumers work off a backlog of events, and the
baseline it is a ratio of — raw pika publishing and consuming as many messages on the
same broker.

* ``acked_total(port)``: every delivery acknowledged on the broker so far (the management
  API's overview; its statistics are sampled every 5 s, so read it after a quiet spell).
  The platform's figure is the deliveries acknowledged while a backlog drains ÷ the time
  from thawing the workers to every consumer queue empty — the cascade included (an
  assignment made by dispatch while it works off ``demand.accepted`` is delivered to
  scoring, visits and the archive within the same drain).
* ``raw_pika(url, n, body)``: ``n`` persistent messages of ``body`` into one durable
  queue by a publisher with asynchronous confirms (``relay_bench``'s, a window of 200 in
  flight), consumed
  at the same time by a consumer with manual acknowledgements (prefetch 50, one ack per
  message) on its own connection; messages/s from the first publish to the last ack.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from typing import Any

from bench.relay_bench import pika_async_confirms

QUEUE = "bench.drain"


def acked_total(management_port: int) -> int:
    auth = base64.b64encode(b"guest:guest").decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{management_port}/api/overview",
        headers={"Authorization": f"Basic {auth}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        stats = json.load(r).get("message_stats") or {}
    return int(stats.get("ack", 0))


def raw_pika(url: str, n: int, body: bytes, window: int = 200, prefetch: int = 50) -> dict:
    """Publish ``n`` messages and consume them concurrently; messages/s end to end."""
    import pika

    setup = pika.BlockingConnection(pika.URLParameters(url))
    ch = setup.channel()
    ch.queue_declare(QUEUE, durable=True)
    ch.queue_purge(QUEUE)
    setup.close()

    done = threading.Event()
    consumed: dict[str, float] = {"n": 0}

    def consume() -> None:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        c = conn.channel()
        c.basic_qos(prefetch_count=prefetch)

        def on_message(ch: Any, method: Any, props: Any, data: bytes) -> None:
            ch.basic_ack(method.delivery_tag)
            consumed["n"] += 1
            if consumed["n"] >= n:
                ch.stop_consuming()

        c.basic_consume(QUEUE, on_message)
        ready.set()
        c.start_consuming()
        consumed["at"] = time.perf_counter()
        conn.close()
        done.set()

    ready = threading.Event()
    t = threading.Thread(target=consume, daemon=True)
    t.start()
    ready.wait(30)

    # the relay bench's publisher: a window in flight, its confirms awaited, the next sent
    messages = [("", QUEUE, body, {"event_id": str(i)}) for i in range(n)]
    t0 = time.perf_counter()
    pika_async_confirms(url, messages, window)
    if not done.wait(600):
        raise RuntimeError("the raw consumer did not finish")
    seconds = consumed["at"] - t0
    return {"messages": n, "seconds": round(seconds, 2), "per_second": round(n / seconds, 1)}
