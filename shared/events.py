"""The event envelope, the (type, version) registry and jurisdiction routing.

Every message on the bus is one JSON object::

    {"event_id": uuid, "event_type": "demand.accepted", "event_version": 1,
     "occurred_at": "2026-11-25T08:00:00+00:00", "producer": "intake",
     "correlation_id": "…", "jurisdiction": "630102", "payload": {...}}

Payload schemas are registered once per (type, version) in ``shared.contracts``;
``parse_event`` validates both the envelope and the payload, so a consumer never
sees a malformed event (it is dead-lettered with the validation message instead). It checks
with the schemas compiled to msgspec first (``shared.eventcheck``: never looser than the
schemas), and asks marshmallow only about what that check refuses.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from shared.eventcheck import Check, compile_schema
from shared.logs import NONE, acting
from shared.logs import correlation_id as current_correlation_id

JURISDICTION_RE = re.compile(r"^[1-9]\d{5}$")  # a GB/T 2260 division
# any unit of the tree: a division, a township (9 digits), a platform-coded unit below them
UNIT_CODE_RE = re.compile(r"^[1-9]\d{5}(\d{3})?(-[PSW]\d{4}){0,3}$")
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")


# The whole country (the adcode commonly used for it): the jurisdiction of platform-wide
# events that belong to no unit, such as the directory's signing keys.
NATION = "100000"


class UnknownEvent(ValueError):
    """No payload schema is registered for this (type, version)."""


def jurisdiction_path(code: str) -> list[str]:
    """The ancestry of a unit code, province first; the hierarchy is in the code itself.

    * a GB/T 2260 division (six digits: two of province, two of prefecture, two of
      county): ``630102`` (城东区) → ``["630000", "630100", "630102"]``;
    * a township or street (the statistics bureau's nine digits: its county's six and
      three more): ``630102001`` → ``[…, "630102", "630102001"]``;
    * a unit the platform codes (park ``P``, service station ``S``, park work station
      ``W``: its parent's code, a hyphen, the letter and four digits, at most three deep):
      ``630102-P0001`` → ``[…, "630102", "630102-P0001"]``.

    Fixed widths keep a subtree a prefix: every code below ``630102-P0001`` starts with
    it, and no sibling does (``shared.events.subtree_prefix``).
    """
    if not UNIT_CODE_RE.match(code):
        raise ValueError(f"not a unit code: {code!r}")
    base, *platform = code.split("-")
    path = [base[:2] + "0000"]
    if base[2:4] != "00":
        path.append(base[:4] + "00")
    if base[4:6] != "00":
        path.append(base[:6])
    if len(base) == 9:
        path.append(base)
    for i in range(len(platform)):
        path.append("-".join([base, *platform[: i + 1]]))
    return path


def in_subtree(code: str, root: str) -> bool:
    """True when division ``code`` is ``root`` or lies below it."""
    return root in jurisdiction_path(code)


def is_province(jurisdiction: str) -> bool:
    """A province-level GB/T 2260 code (``630000``): six digits ending in ``0000``."""
    return (
        len(jurisdiction) == 6
        and jurisdiction.isascii()
        and jurisdiction.isdigit()
        and jurisdiction[0] != "0"
        and jurisdiction.endswith("0000")
    )


def subtree_prefix(root: str) -> str:
    """Every code in ``root``'s subtree starts with this prefix (for SQL LIKE)."""
    path = jurisdiction_path(root)
    if len(root) == 6:
        return root[: (2, 4, 6)[len(path) - 1]]
    return root  # a township or a platform unit: fixed widths make the code a prefix


def routing_key(event_type: str, jurisdiction: str) -> str:
    """``demand.accepted`` in 630102 → ``demand.accepted.630000.630100.630102``.

    A city binds ``demand.accepted.630000.630100.#`` to receive only its subtree.
    """
    return ".".join([event_type, *jurisdiction_path(jurisdiction)])


def subtree_binding(event_type: str, jurisdiction: str) -> str:
    """The topic binding key that matches ``event_type`` within a subtree."""
    return ".".join([event_type, *jurisdiction_path(jurisdiction), "#"])


class ActorSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=120))
    on_behalf_of = fields.String(allow_none=True, load_default=None)


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True, validate=validate.Regexp(EVENT_TYPE_RE))
    event_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    producer = fields.String(required=True, validate=validate.Length(min=1, max=40))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    jurisdiction = fields.String(required=True, validate=validate.Regexp(UNIT_CODE_RE))
    payload = fields.Dict(required=True)
    # Set on events re-published from the archive (replay); consumers' inboxes
    # still dedupe on event_id, so a replay never applies anything twice.
    replay = fields.Boolean(load_default=False)
    # Who did it (a person ``person:<id>``, a system's key id, or ``service:<name>``) and
    # on whose behalf (a service acting on an event: that event's actor).
    actor = fields.Nested(ActorSchema, load_default=None)


_ENVELOPE = EnvelopeSchema()
_REGISTRY: dict[tuple[str, int], Schema] = {}
_CHECKS: dict[tuple[str, int], Check] = {}  # the payload schemas that compile (eventcheck)


def _decoders(check: Check | None) -> tuple[Any, Any] | None:
    if check is None:
        return None
    return msgspec.json.Decoder(check.text), msgspec.json.Decoder(check.value)


_ENVELOPE_DECODERS = _decoders(compile_schema(_ENVELOPE))


def register(event_type: str, version: int, schema: Schema) -> Schema:
    """Register the payload schema of one (type, version); returns the schema."""
    if not EVENT_TYPE_RE.match(event_type):
        raise ValueError(f"bad event type {event_type!r}: use past-tense dotted names")
    key = (event_type, version)
    if key in _REGISTRY:
        raise ValueError(f"event {event_type} v{version} is registered twice")
    _REGISTRY[key] = schema
    check = compile_schema(schema, forbid_unknown=False)  # loaded with unknown=EXCLUDE
    if check is not None:
        _CHECKS[key] = check
    return schema


def registered() -> list[tuple[str, int]]:
    return sorted(_REGISTRY)


def payload_schema(event_type: str, version: int) -> Schema:
    try:
        return _REGISTRY[(event_type, version)]
    except KeyError:
        raise UnknownEvent(f"no schema registered for {event_type} v{version}") from None


@dataclass(frozen=True)
class Event:
    event_type: str
    event_version: int
    producer: str
    jurisdiction: str
    payload: dict[str, Any]
    correlation_id: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    replay: bool = False
    actor: str | None = None  # see EnvelopeSchema.actor
    on_behalf_of: str | None = None
    audience: str | None = None  # a last routing-key word: one agency's queue binds it

    @property
    def routing_key(self) -> str:
        key = routing_key(self.event_type, self.jurisdiction)
        return f"{key}.{self.audience}" if self.audience else key

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "jurisdiction": self.jurisdiction,
            "payload": self.payload,
        }
        if self.replay:
            data["replay"] = True
        if self.actor:
            data["actor"] = {"id": self.actor, "on_behalf_of": self.on_behalf_of}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


def _current_correlation_id() -> str | None:
    """The id of the request or event being handled (``shared.logs``), if any."""
    current = current_correlation_id.get()
    return None if current == NONE else current


def make_event(
    event_type: str,
    version: int,
    *,
    producer: str,
    jurisdiction: str,
    payload: dict[str, Any],
    correlation_id: str | None = None,
    audience: str | None = None,
) -> Event:
    """Build an event whose payload is validated against its registered schema.

    ``audience`` appends one word to the routing key (an agency id): the agency's
    own queue binds ``agency.#.<agency id>`` and receives only what is meant for it.
    Without a ``correlation_id``, the event carries the one of the request or event being
    handled (``shared.logs``), else a new one.
    """
    schema = payload_schema(event_type, version)
    try:
        loaded = schema.load(payload)
    except ValidationError as exc:
        raise ValidationError({"payload": exc.messages}) from exc
    jurisdiction_path(jurisdiction)  # raises on a bad code
    who = acting.get()  # the person or system acting now (shared.logs)
    return Event(
        event_type=event_type,
        event_version=version,
        producer=producer,
        jurisdiction=jurisdiction,
        payload=schema.dump(loaded),
        correlation_id=correlation_id or _current_correlation_id() or str(uuid.uuid4()),
        audience=audience,
        actor=who[0] if who else None,
        on_behalf_of=who[1] if who else None,
    )


@dataclass(frozen=True)
class Contract:
    """One published event type and version, with its producer: calling it builds an event
    (payload validated, producer and version set here once)."""

    producer: str
    event_type: str
    version: int

    def __call__(
        self,
        *,
        jurisdiction: str,
        payload: dict[str, Any],
        correlation_id: str | None = None,
        audience: str | None = None,
    ) -> Event:
        return make_event(
            self.event_type,
            self.version,
            producer=self.producer,
            jurisdiction=jurisdiction,
            payload=payload,
            correlation_id=correlation_id,
            audience=audience,
        )


def producer(name: str) -> Callable[[str, int, Schema], Contract]:
    """The contracts ``name`` publishes: ``event(type, version, schema)`` registers the
    payload schema and returns the builder of that event."""

    def event(event_type: str, version: int, schema: Schema) -> Contract:
        register(event_type, version, schema)
        return Contract(name, event_type, version)

    return event


def _checked(body: str | bytes) -> Event | None:
    """The event, when the compiled checks of its envelope and payload take the body;
    None when either refuses it or has none (``parse_event`` then asks marshmallow)."""
    if _ENVELOPE_DECODERS is None:
        return None
    text, value = _ENVELOPE_DECODERS
    try:
        text.decode(body)
        env = value.decode(body)
        check = _CHECKS.get((env.event_type, env.event_version))
        if check is None:
            return None
        check.passes(env.payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    actor = None if env.actor in (None, msgspec.UNSET) else env.actor
    behalf = None if actor is None or actor.on_behalf_of is msgspec.UNSET else actor.on_behalf_of
    return Event(
        event_type=env.event_type,
        event_version=env.event_version,
        producer=env.producer,
        jurisdiction=env.jurisdiction,
        payload=env.payload,
        correlation_id=env.correlation_id,
        event_id=str(env.event_id),
        occurred_at=env.occurred_at,
        replay=env.replay is True,
        actor=actor.id if actor is not None else None,
        on_behalf_of=behalf,
    )


def parse_event(body: str | bytes | dict[str, Any]) -> Event:
    """Validate a message body (envelope and payload); raise ``ValidationError``."""
    if isinstance(body, bytes | str):
        checked = _checked(body)
        if checked is not None:
            return checked
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"message body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValidationError("message body must be a JSON object")
    env = _ENVELOPE.load(body)
    schema = payload_schema(env["event_type"], env["event_version"])
    try:
        # Tolerant reader: a newer producer may add optional fields (same version);
        # they are validated away here but kept in the event as received.
        schema.load(env["payload"], unknown=EXCLUDE)
    except ValidationError as exc:
        raise ValidationError({"payload": exc.messages}) from exc
    return Event(
        event_type=env["event_type"],
        event_version=env["event_version"],
        producer=env["producer"],
        jurisdiction=env["jurisdiction"],
        payload=env["payload"],
        correlation_id=env["correlation_id"],
        event_id=str(env["event_id"]),
        occurred_at=env["occurred_at"],
        replay=env["replay"],
        actor=(env["actor"] or {}).get("id"),
        on_behalf_of=(env["actor"] or {}).get("on_behalf_of"),
    )
