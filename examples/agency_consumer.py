"""An agency's consumer of its own dispatch queue (pika).

On admission (``POST /dispatch/api/v1/agencies``) an agency receives, once:

* an API key (``osk_…``) for the HTTP actions (acknowledge, progress, complete, refuse);
* broker credentials: user ``agency-<id>``, a password, and the queue ``agency.<id>``.
  The broker user may only **read** that queue: it cannot declare, bind, publish, or
  read any other queue (RabbitMQ answers ``ACCESS_REFUSED``).

Each message is a JSON event envelope (see docs/asyncapi.yaml):

* ``agency.order_dispatched`` — a new order: service item, enterprise, terms (price,
  performance bond, settlement rule), deadline, the dispatch decision, and the demand's
  content and contact (``details``: the agency handles the demand; ``consent_to_share``
  says whether the enterprise allows sharing them beyond the handling parties);
* ``agency.order_withdrawn`` — an order taken back (demand rejected, or closed before the
  order was taken up, or reassigned).

Messages are persistent; acknowledge only after you have stored the order, so a crash
means redelivery, never loss. The same ``event_id`` may arrive twice: deduplicate on it.

Usage::

    python examples/agency_consumer.py --url amqp://agency-ag-pat-9:PASSWORD@host:5672/%2F \\
        --queue agency.ag-pat-9 [--api https://host/dispatch --key osk_… ] [--count N]

With ``--api`` and ``--key`` each new order is acknowledged over HTTP too.
Prints one JSON line per message on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pika
import requests


def acknowledge(api: str, key: str, assignment_id: str) -> int:
    r = requests.post(
        f"{api.rstrip('/')}/api/v1/assignments/{assignment_id}/acknowledge",
        json={"note": "received by the agency consumer"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return r.status_code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="amqp URL with the agency's broker credentials")
    ap.add_argument("--queue", required=True, help="agency.<agency id>")
    ap.add_argument("--api", help="the dispatch service's base URL, to acknowledge orders")
    ap.add_argument("--key", help="the agency's API key")
    ap.add_argument("--count", type=int, default=0, help="stop after N messages (0: run forever)")
    ap.add_argument("--timeout", type=float, default=0, help="stop after this many idle seconds")
    args = ap.parse_args(argv)

    params = pika.URLParameters(args.url)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=10)
    seen: set[str] = set()
    # consume() yields (None, None, None) after `inactivity_timeout` idle seconds
    for received, (method, _props, body) in enumerate(
        channel.consume(args.queue, auto_ack=False, inactivity_timeout=args.timeout or None),
        start=1,
    ):
        if method is None:
            break
        envelope: dict[str, Any] = json.loads(body)
        out = {
            "event_id": envelope["event_id"],
            "event_type": envelope["event_type"],
            "payload": envelope["payload"],
            "duplicate": envelope["event_id"] in seen,
        }
        if (
            args.api
            and args.key
            and envelope["event_type"] == "agency.order_dispatched"
            and not out["duplicate"]
        ):
            out["acknowledged"] = acknowledge(
                args.api, args.key, envelope["payload"]["assignment_id"]
            )
        seen.add(envelope["event_id"])
        print(json.dumps(out, ensure_ascii=False), flush=True)
        channel.basic_ack(method.delivery_tag)  # after the order is safely handled
        if args.count and received >= args.count:
            break
    channel.cancel()
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
