"""A district system's receiver of onestop's callbacks (standard library only).

Register once with the key the system files demands with::

    curl -X PUT https://host/intake/api/v1/callback -H "Authorization: Bearer osk_…" \\
         -H "Content-Type: application/json" -d '{"url": "https://district.example/cb"}'

The answer carries ``secret`` (``whsec_…``) this once: keep it. From then on every status
change of a demand the key filed is POSTed to the URL — the ``demand.status_changed``
event's envelope as JSON (see docs/asyncapi.yaml) — in order per demand, signed the
Standard Webhooks way (https://www.standardwebhooks.com):

* ``webhook-id``: the event id — the same change may come twice (at least once):
  process a given id once;
* ``webhook-timestamp``: Unix seconds when the attempt was signed — refuse one more than
  five minutes from your clock (a replay);
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}`` under
  the base64-decoded secret after ``whsec_`` (several, space-separated, may be sent).

Answer any 2xx once stored; anything else (or no answer within 10 s) is tried again with
back-off (5 s doubling to 5 minutes, for about two hours), then dead-lettered: read
``GET /intake/api/v1/callback/deliveries`` and re-send one with
``POST …/callback/deliveries/<id>/resend``.

Usage::

    python examples/callback_receiver.py --secret whsec_… [--port 8443]

Prints one JSON line per verified change on stdout. Serve it behind TLS (a reverse proxy):
the platform sends only to https URLs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE = 300  # seconds between the signed timestamp and our clock


class Refused(ValueError):
    """A request that is not a genuine, fresh callback."""


def verify(
    secret: str, headers: Any, body: bytes, now: float | None = None, tolerance: int = TOLERANCE
) -> dict[str, Any]:
    """The event of a genuine callback, or ``Refused``: the signature must match under
    ``secret`` and the timestamp lie within ``tolerance`` seconds of ``now``."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise Refused("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise Refused("bad timestamp") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise Refused("timestamp outside the window")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for given in signatures.split(" "):
        version, _, value = given.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise Refused("no valid signature")


def handler(secret: str, seen: set[str]) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                event = verify(secret, self.headers, body)
            except Refused as exc:
                self.send_error(401, str(exc))
                return
            if event["event_id"] not in seen:  # at least once: process each change once
                seen.add(event["event_id"])
                print(json.dumps(event, ensure_ascii=False), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Receiver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret", required=True, help="the whsec_… answered at registration")
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler(args.secret, set()))
    print(f"listening on {args.host}:{args.port}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
