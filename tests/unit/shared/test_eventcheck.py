"""The contracts compiled to msgspec (``shared.eventcheck``): every registered payload
schema and the envelope compile; a check is never looser than its schema — each contract's
valid payload, and the same payload spoiled field by field, is accepted by the check only
where marshmallow accepts it too; and ``parse_event`` gives the same event either way."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import msgspec
import pytest
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

import shared.contracts  # noqa: F401 - registers every contract
from shared.contracts import directory, dispatch, intake, operations, scoring, visits  # noqa: F401
from shared.eventcheck import compile_schema
from shared.events import _CHECKS, _ENVELOPE, Event, parse_event, payload_schema, registered

SAMPLES = {  # a value for each pattern the contracts use
    r"^[1-9]\d{5}(\d{3})?(-[PSW]\d{4}){0,3}$": "630102-P0001",
    r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$": "demand.accepted",
}


def value_for(f: Any) -> Any:
    checks = [v for v in f.validators if not isinstance(v, validate.OneOf)]
    for v in f.validators:
        if isinstance(v, validate.OneOf):
            return next(c for c in v.choices if all(_ok(x, c) for x in checks))
        if isinstance(v, validate.Regexp):
            return SAMPLES[v.regex.pattern]
    if isinstance(f, fields.Nested):
        one = sample(f.schema)
        return [one] if f.many else one
    if isinstance(f, fields.List):
        lengths = [v for v in f.validators if isinstance(v, validate.Length)]
        n = max([1] + [v.min or v.equal or 0 for v in lengths])
        return [value_for(f.inner) for _ in range(n)]
    if isinstance(f, fields.String):
        lengths = [v for v in f.validators if isinstance(v, validate.Length)]
        n = max([2] + [v.min or v.equal or 0 for v in lengths])
        return "青" * n
    simple = {
        fields.Integer: 1,
        fields.Float: 1.5,
        fields.Boolean: True,
        fields.AwareDateTime: "2026-12-01T10:00:00.123456+08:00",
        fields.Date: "2026-12-01",
        fields.UUID: str(uuid.uuid4()),
        fields.Dict: {"k": "v"},
    }
    return simple[type(f)]


def _ok(validator: Any, value: Any) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def sample(schema: Schema) -> dict[str, Any]:
    return {name: value_for(f) for name, f in schema.load_fields.items()}


SPOILS: list[Any] = [
    None, 0, -1, 5.0, 1e400, True, "", "x", "青" * 300, "true", "5", [], [1], {}, {"k": 1},
    "2026-12-01t10:00:00z", "2026-12-01T10:00:00", "2026-02-30T10:00:00Z",
    "2026-12-01T10:00+08:00", "2026-12-01", "20261201", str(uuid.uuid4()).replace("-", ""),
    "630102\n", "630102-P0001\n", "demand.accepted\n", "technology\n",
]  # fmt: skip
MISSING = object()


def spoiled(schema: Schema, good: dict[str, Any]) -> list[dict[str, Any]]:
    """``good`` with one field spoiled, for every field and every spoil (and nested fields
    one level down)."""
    out = []
    for name, f in schema.load_fields.items():
        for bad in [MISSING, *SPOILS]:
            one = copy.deepcopy(good)
            if bad is MISSING:
                one.pop(name, None)
            else:
                one[name] = bad
            out.append(one)
        if isinstance(f, fields.Nested) and not f.many:
            for inner in [*spoiled(f.schema, good[name]), {**good[name], "extra": 1}]:
                out.append({**good, name: inner})
        if isinstance(f, fields.List) and isinstance(f.inner, fields.Nested):
            for inner in spoiled(f.inner.schema, good[name][0]):
                out.append({**good, name: [inner]})
    out.append({**good, "a_newer_field": 1})
    return out


def accepted_by_marshmallow(schema: Schema, data: Any, unknown: str | None) -> bool:
    try:
        schema.load(data, unknown=unknown) if unknown else schema.load(data)
    except ValidationError:
        return False
    return True


def refusals(check: Any, schema: Schema, good: dict[str, Any], unknown: str | None) -> int:
    """How many spoiled copies of ``good`` the check refuses; each one it takes, the schema
    must take too."""
    refused = 0
    for data in spoiled(schema, good):
        try:
            check.passes(data)
        except msgspec.ValidationError:
            refused += 1
            continue
        assert accepted_by_marshmallow(schema, data, unknown), data
    return refused


def test_every_contract_and_the_envelope_compile():
    assert set(_CHECKS) == set(registered()) and len(_CHECKS) >= 50
    assert compile_schema(_ENVELOPE) is not None


@pytest.mark.parametrize("key", registered(), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_a_check_takes_only_what_its_schema_takes(key):
    schema, check = payload_schema(*key), _CHECKS[key]
    good = sample(schema)
    assert accepted_by_marshmallow(schema, good, EXCLUDE)
    check.passes(good)  # the fast path is taken for a valid payload
    assert refusals(check, schema, good, EXCLUDE) > 0


def envelope(payload: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = Event(
        event_type="demand.accepted",
        event_version=1,
        producer="intake",
        jurisdiction="630102",
        payload=payload,
        correlation_id="c-1",
        actor="person:1",
        on_behalf_of=None,
    ).to_dict()
    body.update(over)
    return body


def test_the_envelope_check_takes_only_what_the_envelope_schema_takes():
    check = compile_schema(_ENVELOPE)
    assert check is not None
    good = envelope(sample(payload_schema("demand.accepted", 1)))
    check.passes(good)
    assert refusals(check, _ENVELOPE, good, None) > 100


@pytest.mark.parametrize("key", registered(), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_parse_event_gives_the_same_event_checked_either_way(key):
    body = envelope(sample(payload_schema(*key)), event_type=key[0], event_version=key[1])
    body["payload"]["a_newer_field"] = {"kept": True}  # a tolerant reader keeps it
    raw = json.dumps(body, ensure_ascii=False)
    fast = parse_event(raw.encode())
    assert fast == parse_event(json.loads(raw))  # a dict body is checked by marshmallow
    assert fast.payload["a_newer_field"] == {"kept": True}


def test_what_the_check_refuses_is_refused_with_marshmallows_message():
    good = envelope(sample(payload_schema("demand.accepted", 1)))
    good["payload"]["category"] = "astrology"
    with pytest.raises(ValidationError) as raised:
        parse_event(json.dumps(good))
    assert "category" in raised.value.messages["payload"]
    good = envelope(sample(payload_schema("demand.accepted", 1)))
    good["occurred_at"] = "2026-12-01T10:00:00z"  # msgspec would take it; marshmallow not
    with pytest.raises(ValidationError, match="occurred_at"):
        parse_event(json.dumps(good))


def test_a_field_or_validator_it_does_not_know_is_left_to_marshmallow():
    class Custom(Schema):
        email = fields.Email()

    class Predicate(Schema):
        name = fields.String(validate=validate.Predicate("isupper"))

    class Keyed(Schema):
        name = fields.String(data_key="Name")

    assert compile_schema(Custom()) is None
    assert compile_schema(Predicate()) is None
    assert compile_schema(Keyed()) is None
