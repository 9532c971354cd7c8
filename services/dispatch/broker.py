"""Each agency's own queue and broker user (issue: per-agency queues).

* The queue ``agency.<agency id>`` is durable and bound to ``onestop.dispatch``
  with ``agency.#.<agency id>``: events dispatch addresses to that agency
  (``make_event(..., audience=agency_id)``) and nothing else.
* On RabbitMQ the agency gets a broker user ``agency-<agency id>`` whose only
  permission is **read** on its own queue (configure and write: none), created
  through the management HTTP API (``ONESTOP_BROKER_ADMIN_URL``). The password is
  generated once, given to the agency once, and only RabbitMQ's salted SHA-256
  hash of it is stored or sent (``password_hash``), never the password.
* In the embedded default the queue exists in-process; there are no broker users.
* ``reprovision`` makes them all again from dispatch's records (a broker rebuilt without
  its definitions): the stored hash is set as it is, so every agency keeps its password.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from kombu import Queue, binding

from shared.config import Settings
from shared.messaging import DLX, connect, dead_letter_queue, exchange_for, quorum_arguments

log = logging.getLogger(__name__)

AGENCY_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}$")


def queue_name(agency_id: str) -> str:
    return f"agency.{agency_id}"


def broker_user(agency_id: str) -> str:
    return f"agency-{agency_id}"


def agency_queue(agency_id: str) -> Queue:
    name = queue_name(agency_id)
    return Queue(
        name,
        bindings=[binding(exchange_for("dispatch"), routing_key=f"agency.#.{agency_id}")],
        durable=True,
        queue_arguments=quorum_arguments(name),
    )


def declare_agency_queues(channel: Any, agency_ids: list[str]) -> None:
    """Declare agency queues (idempotent): at admission and whenever a worker starts."""
    exchange_for("dispatch")(channel).declare()
    DLX(channel).declare()
    for agency_id in agency_ids:
        agency_queue(agency_id)(channel).declare()
        dead_letter_queue(queue_name(agency_id))(channel).declare()


def rabbit_password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    password_hash: str


def new_credentials(agency_id: str) -> Credentials:
    password = secrets.token_urlsafe(24)
    return Credentials(broker_user(agency_id), password, rabbit_password_hash(password))


class ProvisioningError(RuntimeError):
    """The broker could not be prepared for an agency (nothing is recorded then)."""


def _vhost(broker_url: str) -> str:
    path = urlsplit(broker_url.split(";")[0]).path.lstrip("/")  # a cluster: its first node
    return path or "/"


def public_broker_url(settings: Settings, username: str) -> str | None:
    """The AMQP URL an agency connects to (its password left out), or None when embedded."""
    if settings.embedded:
        return None
    u = urlsplit(settings.broker_url.split(";")[0])  # a cluster's nodes: the first
    host = u.hostname or "localhost"
    port = f":{u.port}" if u.port else ""
    return (
        f"{u.scheme}://{quote(username)}@{host}{port}/{quote(_vhost(settings.broker_url), safe='')}"
    )


def provision(settings: Settings, agency_id: str, password_hash: str | None) -> dict[str, Any]:
    """Declare the agency's queue and, on RabbitMQ, its read-only broker user."""
    try:
        with connect(settings.broker_url) as conn:
            declare_agency_queues(conn.default_channel, [agency_id])
    except Exception as exc:
        raise ProvisioningError(f"could not declare queue {queue_name(agency_id)}: {exc}") from exc
    info: dict[str, Any] = {"queue": queue_name(agency_id), "user_provisioned": False}
    if settings.embedded or password_hash is None:
        return info
    admin = settings.broker_admin_url
    if not admin:
        log.warning("ONESTOP_BROKER_ADMIN_URL unset: no broker user for %s", agency_id)
        return info
    _management_user(
        admin, _vhost(settings.broker_url), broker_user(agency_id), password_hash, agency_id
    )
    info["user_provisioned"] = True
    return info


@dataclass(frozen=True)
class AgencyBroker:
    """What admitting an agency asks of the broker, over ``settings``: credentials, the
    queue and read-only user, the URL to hand out. Admission takes one explicitly (a
    fake in use-case tests)."""

    settings: Settings

    @property
    def embedded(self) -> bool:
        return self.settings.embedded

    def credentials(self, agency_id: str) -> Credentials | None:
        """New credentials for the agency's broker user; None when embedded (no users)."""
        return None if self.settings.embedded else new_credentials(agency_id)

    def provision(self, agency_id: str, password_hash: str | None) -> dict[str, Any]:
        return provision(self.settings, agency_id, password_hash)

    def url(self, username: str) -> str | None:
        return public_broker_url(self.settings, username)


def _management_user(
    admin_url: str, vhost: str, user: str, password_hash: str, agency_id: str
) -> None:
    u = urlsplit(admin_url)
    base = f"{u.scheme}://{u.hostname}:{u.port or 15672}{u.path.rstrip('/')}/api"
    auth = (u.username or "guest", u.password or "guest")
    read_only = {"configure": "^$", "write": "^$", "read": f"^{re.escape(queue_name(agency_id))}$"}
    try:
        r = requests.put(
            f"{base}/users/{quote(user, safe='')}",
            json={"password_hash": password_hash, "tags": ""},
            auth=auth,
            timeout=10,
        )
        r.raise_for_status()
        r = requests.put(
            f"{base}/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            json=read_only,
            auth=auth,
            timeout=10,
        )
        r.raise_for_status()
    except requests.RequestException as exc:
        raise ProvisioningError(f"RabbitMQ management API refused the agency user: {exc}") from exc


def agency_records(db: Any) -> list[dict[str, Any]]:
    """What dispatch knows of each agency's broker access (``db``: dispatch's Database)."""
    from sqlalchemy import select

    from services.dispatch.models import agencies

    a = agencies.c
    with db.reading() as s:
        rows = s.execute(
            select(a.id, a.status, a.broker_user, a.broker_password_hash).order_by(a.id)
        )
        return [dict(r) for r in rows.mappings()]


def reprovision(settings: Settings, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every agency's queue, and its broker user and read-only permission where its record
    has one, made again from ``records`` (``id``, ``broker_user``,
    ``broker_password_hash``): the user gets the stored RabbitMQ hash (``password_hash``),
    so the password the agency was given at admission works again and nothing new is
    issued. Idempotent (declare and PUT); one line of outcome per agency."""
    out = []
    for record in records:
        with_user = bool(record["broker_user"] and record["broker_password_hash"])
        info = provision(
            settings, record["id"], record["broker_password_hash"] if with_user else None
        )
        out.append({"agency_id": record["id"], "status": record.get("status"), **info})
    return out


def queue_depths(settings: Settings, agency_ids: list[str]) -> dict[str, int]:
    """Messages waiting in each agency's queue (passive declare; missing queues skipped)."""
    out: dict[str, int] = {}
    try:
        with connect(settings.broker_url) as conn:
            for agency_id in agency_ids:
                try:
                    ch = conn.channel()
                    _, count, _ = ch.queue_declare(queue=queue_name(agency_id), passive=True)
                    out[agency_id] = int(count)
                    ch.close()
                except Exception:
                    continue
    except Exception:
        log.debug("queue depths unavailable", exc_info=True)
    return out
