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
  queue by a publisher with asynchronous confirms (a window of 200 in flight), consumed
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

    props = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8", delivery_mode=2
    )
    state: dict[str, Any] = {"sent": 0, "acked": 0}

    def send_window() -> None:
        end = min(state["sent"] + window, n)
        for _ in range(state["sent"], end):
            state["channel"].basic_publish("", QUEUE, body, props)
        state["sent"] = end

    def on_confirm(frame: Any) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            raise RuntimeError("the broker refused a message")
        state["acked"] = max(state["acked"], method.delivery_tag)  # one channel: in order
        if state["acked"] >= state["sent"]:
            if state["sent"] >= n:
                state["connection"].close()
            else:
                send_window()

    def on_channel(ch: Any) -> None:
        state["channel"] = ch

        def start(_: Any) -> None:
            state["t0"] = time.perf_counter()
            send_window()

        ch.confirm_delivery(on_confirm, callback=start)

    conn = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, reason: c.ioloop.stop(),
    )
    state["connection"] = conn
    conn.ioloop.start()
    if not done.wait(600):
        raise RuntimeError("the raw consumer did not finish")
    seconds = consumed["at"] - state["t0"]
    return {"messages": n, "seconds": round(seconds, 2), "per_second": round(n / seconds, 1)}
