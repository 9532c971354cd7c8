"""Callbacks to the system that filed a demand (XN 应及时向需求提供企业反馈需求处理进度和结果):
how a delivery is signed, when a failed one is tried again, which URLs may receive them.

Signed the Standard Webhooks way (https://www.standardwebhooks.com, the scheme Svix and
others use), so a receiver may verify with any of its libraries or with ten lines of
``hmac`` (``examples/callback_receiver.py``): three headers,

* ``webhook-id``: the change's event id (the same ``event_id`` as on the bus — a receiver
  that sees it twice drops the second: delivery is at least once);
* ``webhook-timestamp``: when this attempt was signed, Unix seconds (a receiver refuses one
  too far from its clock: a replay);
* ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under
  the key's secret (``whsec_`` + base64 of 32 random bytes, shown once at registration).

A failed attempt (no answer, or not a 2xx) is tried again after ``Schedule.delay``: the
base doubled each time up to the cap, until the attempts are spent; then the delivery is
dead-lettered (the log shows it, ``resend`` tries again). The defaults (5 s doubling to
5 min, 30 attempts) keep trying for about two hours: a receiver down for ten minutes
gets everything at most five minutes after it is back.

Where a callback may go (``Reach``): never to the platform's own side of the network
— loopback, link-local (cloud metadata at 169.254.169.254), unspecified, multicast or
reserved addresses — and to a private network (10/8, 172.16/12, 192.168/16, fc00::/7, as
many government networks are) only when it is listed
(``ONESTOP_CALLBACK_PRIVATE_NETWORKS``). A literal address is checked when the URL is
registered; a host name's addresses at every attempt (an attempt to a refused address
fails and is retried like any other).

Pure Python: no Flask, SQLAlchemy or HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
MAX_URL = 2000
TOLERANCE = 300  # seconds a receiver accepts between a timestamp and its clock


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt to deliver ``body``."""
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


@dataclass(frozen=True)
class Schedule:
    """When a failed delivery is tried again: ``base`` seconds after the first failure,
    doubling up to ``cap``; after ``attempts`` attempts it is dead-lettered."""

    base: float = 5.0
    cap: float = 300.0
    attempts: int = 30

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.attempts < 1:
            raise ValueError("a schedule needs 0 < base <= cap and at least one attempt")

    def delay(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed attempt (1, 2, …)."""
        if failed < 1:
            raise ValueError("a delay follows a failed attempt")
        return float(min(self.base * 2 ** min(failed - 1, 62), self.cap))

    def retry_in(self, failed: int) -> float | None:
        """After ``failed`` failed attempts: seconds until the next, or None (dead-lettered)."""
        return None if failed >= self.attempts else self.delay(failed)

    def span(self) -> float:
        """Seconds from the first attempt to the last: how long a receiver may be down
        and still get the delivery (one attempt falls after it is back)."""
        return sum(self.delay(n) for n in range(1, self.attempts))


@dataclass(frozen=True)
class Outcome:
    """What one attempt leaves: ``delivered``, ``pending`` (again in ``retry_in`` s) or
    ``dead``."""

    status: str
    retry_in: float | None = None


def outcome(http_status: int | None, attempts: int, schedule: Schedule) -> Outcome:
    """The delivery's state after its ``attempts``-th attempt got ``http_status`` (None:
    no answer — refused, timed out, TLS failed). Any 2xx delivers; anything else is retried
    (a receiver that is down often answers 502/503 from its proxy)."""
    if http_status is not None and 200 <= http_status < 300:
        return Outcome("delivered")
    retry_in = schedule.retry_in(attempts)
    return Outcome("dead") if retry_in is None else Outcome("pending", retry_in)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Reach:
    """Which addresses callbacks may reach: public ones, the ``private`` networks listed,
    and loopback only where ``loopback`` (the embedded default, tests, benchmarks)."""

    loopback: bool = False
    private: tuple[Network, ...] = ()

    @classmethod
    def of(cls, loopback: bool, networks: tuple[str, ...] = ()) -> Reach:
        """From settings; ``ValueError`` for a network that is not a CIDR."""
        return cls(loopback, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def address_error(self, address: str) -> str | None:
        """Why a callback may not go to ``address``, or None."""
        ip: Address = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return None if self.loopback else f"{ip} is a loopback address"
        if ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            return f"{ip} is not an address callbacks may reach"
        if ip.is_private and not any(ip in n for n in self.private if n.version == ip.version):
            return f"{ip} is a private address not listed in ONESTOP_CALLBACK_PRIVATE_NETWORKS"
        return None


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_error(url: str, *, loopback_http: bool = False, reach: Reach | None = None) -> str | None:
    """Why ``url`` cannot receive callbacks, or None: https with a host, no credentials in
    it; plain http only to a loopback address and only where ``loopback_http`` (the
    embedded default, tests, benchmarks: ``ONESTOP_CALLBACK_LOOPBACK_HTTP``); a literal
    address only one ``reach`` allows (by default: public ones, loopback as above)."""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not carry credentials"
    if parts.fragment:
        return "must not have a fragment"
    if parts.scheme == "http" and not (loopback_http and _loopback(host)):
        return "must be https (plain http only to a loopback address in tests)"
    literal = _literal(host)
    if literal is not None:
        return (reach or Reach(loopback_http)).address_error(literal)
    return None
