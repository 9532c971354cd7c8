"""A fast first check of an event against its contract: the marshmallow schema compiled
to msgspec types, never looser than the schema.

``parse_event`` validates every message a consumer takes; with marshmallow that was most
of the CPU a consumer spent on an event (about 0.1 ms per message, several messages per
demand). ``compile_schema`` turns a schema into a ``Check``: two msgspec types, checked
with ``msgspec.convert`` in microseconds.

**Never looser.** A check accepts only what its schema accepts; it may refuse more (a
boolean written ``"true"``, an integer written ``5.0`` or ``"5"``, a time without
seconds), and the caller then asks the schema, whose answer — and error message — is
the one that counts. So what a consumer accepts, and every message it dead-letters with,
stays marshmallow's. msgspec's datetimes take a lowercase ``t`` and ``z`` where
marshmallow's do not: ``text`` checks each datetime is a string without them, ``value``
that it is a real, aware datetime; a message passes only both.

**Only what it knows.** A schema compiles only when every field is one of ``String``,
``Integer``, ``Float``, ``Boolean``, ``AwareDateTime`` (ISO), ``Date``, ``UUID``, an
untyped ``Dict``, ``List`` and ``Nested`` of these — exactly those classes, without a
``data_key`` — and every validator one of ``Length``, ``OneOf``, ``Range`` and
``Regexp`` (no flags); no schema hook. Anything else gives None: that schema is always
checked by marshmallow alone. ``tests/unit/shared/test_eventcheck.py`` compiles every
registered contract and holds each against its schema, valid and spoiled field by field.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from marshmallow import RAISE, Schema, fields, validate

FLOAT_MAX = 1.7976931348623157e308  # marshmallow refuses inf (and nan, which JSON lacks)
NO_LOWER_T_OR_Z = r"^[^tz]*\Z"  # marshmallow's ISO datetimes take upper case only


class NotCompiled(Exception):
    """A field or validator this module does not translate exactly."""


@dataclass(frozen=True)
class Check:
    """A schema compiled: ``text`` (datetimes as strings) and ``value`` (as datetimes)."""

    text: Any
    value: Any

    def passes(self, data: Any) -> Any:
        """``data`` converted by ``value`` when both types take it; raises
        ``msgspec.ValidationError`` when either refuses it."""
        msgspec.convert(data, self.text)
        return msgspec.convert(data, self.value)


def compile_schema(schema: Schema, *, forbid_unknown: bool | None = None) -> Check | None:
    """The schema's ``Check``, or None when it cannot be translated exactly. Unknown keys
    are refused as the schema's ``unknown`` says, unless ``forbid_unknown`` overrides it
    (``parse_event`` loads payloads with ``unknown=EXCLUDE``)."""
    try:
        return Check(
            _struct(schema, "text", forbid_unknown), _struct(schema, "value", forbid_unknown)
        )
    except NotCompiled:
        return None


def _struct(schema: Schema, mode: str, forbid_unknown: bool | None = None) -> Any:
    if any(schema._hooks.values()):
        raise NotCompiled("schema hooks")
    forbid = schema.unknown == RAISE if forbid_unknown is None else forbid_unknown
    members: list[tuple[Any, ...]] = []
    for name, f in schema.load_fields.items():
        if f.data_key is not None and f.data_key != name:
            raise NotCompiled(f"{name}: data_key")
        kind = _field(f, mode)
        if f.allow_none:
            kind = kind | None
        if f.required:
            members.append((name, kind))
        else:
            members.append((name, kind | msgspec.UnsetType, msgspec.UNSET))
    return msgspec.defstruct(
        f"{type(schema).__name__}_{mode}", members, kw_only=True, forbid_unknown_fields=forbid
    )


def _field(f: Any, mode: str) -> Any:  # a marshmallow field
    kind = type(f)
    meta: dict[str, Any] = {}
    if kind is fields.String:
        base: Any = str
    elif kind is fields.Integer:
        base = int
    elif kind is fields.Float:
        base, meta = float, {"ge": -FLOAT_MAX, "le": FLOAT_MAX}
    elif kind is fields.Boolean:
        base = bool
    elif kind is fields.AwareDateTime and f.format in (None, "iso"):
        if mode == "text":
            base, meta = str, {"pattern": NO_LOWER_T_OR_Z}
        else:
            base, meta = dt.datetime, {"tz": True}
    elif kind is fields.Date and f.format in (None, "iso"):
        base = str if mode == "text" else dt.date
    elif kind is fields.UUID:
        base = str if mode == "text" else uuid.UUID
    elif kind is fields.Dict and f.key_field is None and f.value_field is None:
        base = dict
    elif kind is fields.List:
        base = list[_field(f.inner, mode)]  # type: ignore[misc]
    elif kind is fields.Nested and isinstance(f.schema, Schema):
        base = _struct(f.schema, mode)
        if f.many:
            base = list[base]
    else:
        raise NotCompiled(f"field {kind.__name__}")
    return _validated(base, meta, f.validators, mode, kind)


def _validated(base: Any, meta: dict[str, Any], validators: Any, mode: str, kind: Any) -> Any:
    choices = None
    for v in validators:
        if type(v) is validate.Length:
            lo, hi = (v.equal, v.equal) if v.equal is not None else (v.min, v.max)
            if lo is not None:
                meta["min_length"] = lo
            if hi is not None:
                meta["max_length"] = hi
        elif type(v) is validate.Range:
            if v.min is not None:
                meta["ge" if v.min_inclusive else "gt"] = v.min
            if v.max is not None:
                meta["le" if v.max_inclusive else "lt"] = v.max
        elif type(v) is validate.Regexp and kind is fields.String:
            pattern = v.regex.pattern
            if v.regex.flags & ~re.UNICODE or not isinstance(pattern, str):
                raise NotCompiled("regexp flags")
            meta["pattern"] = f"^(?:{pattern})"  # marshmallow matches at the start
        elif type(v) is validate.OneOf and kind in (fields.String, fields.Integer):
            choices = list(v.choices)
        else:
            raise NotCompiled(f"validator {type(v).__name__}")
    if choices is not None:
        # only the choices that every other validator takes (a Literal carries no Meta)
        others = [v for v in validators if type(v) is not validate.OneOf]
        kept = [c for c in choices if type(c) is base and _passes(others, c)]
        if not kept:
            raise NotCompiled("no choice passes")
        return Literal[tuple(kept)]
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _passes(validators: list[Any], value: Any) -> bool:
    try:
        for v in validators:
            v(value)
    except Exception:
        return False
    return True
