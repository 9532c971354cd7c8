"""The directory's request and response schemas (its OpenAPI document)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.auth import ROLES
from shared.contracts.directory import LEVELS, PERSON_ROLES, SOURCES
from shared.events import UNIT_CODE_RE

CODE = validate.Regexp(UNIT_CODE_RE, error="not a unit code")
OPENABLE = ("township", "park", "station", "workstation")


class UnitArgs(Schema):
    parent = fields.String(validate=CODE)
    within = fields.String(validate=CODE, metadata={"description": "a subtree"})
    level = fields.String(validate=validate.OneOf(LEVELS))
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "名称包含"})
    include_retired = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=5000))


class UnitOut(Schema):
    code = fields.String()
    name = fields.String()
    parent = fields.String(allow_none=True)
    level = fields.String()
    source = fields.String(metadata={"description": ", ".join(SOURCES)})
    retired = fields.Boolean()
    successor = fields.String(allow_none=True)


class ChangeOut(Schema):
    kind = fields.String()
    name = fields.String()
    old_name = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)
    old_parent = fields.String(allow_none=True)
    successor = fields.String(allow_none=True)
    reason = fields.String()
    actor = fields.String()
    at = fields.DateTime()


class UnitDetail(UnitOut):
    path = fields.List(fields.String())
    children = fields.List(fields.Nested(UnitOut))
    changes = fields.List(fields.Nested(ChangeOut))


class UnitList(Schema):
    items = fields.List(fields.Nested(UnitOut))


class UnitIn(Schema):
    """A unit opened below ``parent``: a township names its national code; the platform
    codes a park (P), a service station (S) or a park work station (W)."""

    parent = fields.String(required=True, validate=CODE)
    kind = fields.String(required=True, validate=validate.OneOf(OPENABLE))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    code = fields.String(validate=validate.Regexp(r"^[1-9]\d{8}$"))


class UnitChangeIn(Schema):
    """One change: a new ``name``; or ``retire`` (with a ``successor``); or ``reopen``."""

    name = fields.String(validate=validate.Length(min=1, max=100))
    retire = fields.Boolean()
    successor = fields.String(validate=CODE)
    reopen = fields.Boolean()
    reason = fields.String(validate=validate.Length(min=1, max=500))


class KeyArgs(Schema):
    jurisdiction = fields.String(validate=CODE)
    include_revoked = fields.Boolean(load_default=False)


SCOPE = validate.Regexp(
    r"^[a-z_]+\.([a-z_]+|\*)$", error="an action (intake.create_demand) or intake.*"
)


class KeyIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    jurisdiction = fields.String(required=True, validate=CODE)
    agency_id = fields.String(validate=validate.Length(min=1, max=40))
    scopes = fields.List(
        fields.String(validate=SCOPE),
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the actions the key may call (default: all its role may)"},
    )


class RotateIn(Schema):
    overlap_days = fields.Integer(
        load_default=7,
        validate=validate.Range(min=0, max=90),
        metadata={"description": "how long the old key keeps working beside the new one"},
    )


class KeyOut(Schema):
    key_id = fields.String()
    name = fields.String()
    role = fields.String()
    jurisdiction = fields.String()
    agency_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    scopes = fields.List(fields.String(), allow_none=True)


class IssuedKey(KeyOut):
    key = fields.String(metadata={"description": "shown once; only its hash is kept"})
    replaces = fields.String(metadata={"description": "a rotation: the key it succeeds"})
    old_key_ends = fields.DateTime(metadata={"description": "a rotation: the old key's end"})


class KeyList(Schema):
    items = fields.List(fields.Nested(KeyOut))


class ImportReport(Schema):
    rows = fields.Integer()
    changes = fields.Dict(keys=fields.String(), values=fields.Integer())


class SignInIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    totp = fields.String(
        validate=validate.Length(min=1, max=10), metadata={"description": "二次验证码"}
    )


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PersonOut(Schema):
    person_id = fields.String()
    name = fields.String()
    unit = fields.String()
    roles = fields.List(fields.String())
    api_role = fields.String()
    agency_id = fields.String(allow_none=True)
    staff_id = fields.String(allow_none=True)
    credit_codes = fields.List(fields.String())
    disabled = fields.Boolean()
    second_factor = fields.Boolean()


class CreatedPerson(PersonOut):
    second_factor_secret = fields.String(metadata={"description": "shown once"})
    second_factor_uri = fields.String(metadata={"description": "otpauth:// for an app, once"})


class PersonList(Schema):
    items = fields.List(fields.Nested(PersonOut))


class PersonIn(Schema):
    person_id = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9._-]{2,39}$")
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    unit = fields.String(required=True, validate=CODE)
    roles = fields.List(
        fields.String(validate=validate.OneOf(PERSON_ROLES)),
        required=True,
        validate=validate.Length(min=1, max=len(PERSON_ROLES)),
    )
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    agency_id = fields.String(validate=validate.Length(min=1, max=40))
    staff_id = fields.String(validate=validate.Length(min=1, max=40))
    credit_codes = fields.List(
        fields.String(validate=validate.Length(equal=18)), validate=validate.Length(max=50)
    )


class IdentityIn(Schema):
    """Who the person is at the identity platform: its issuer and the ``sub`` it gives them."""

    issuer = fields.Url(
        required=True,
        require_tld=False,
        schemes={"https", "http"},
        validate=validate.Length(max=255),
        metadata={"description": "the platform's OpenID Connect issuer (ONESTOP_OIDC_ISSUER)"},
    )
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "the platform's sub claim for this person"},
    )


class IdentityOut(Schema):
    identity_id = fields.Integer()
    issuer = fields.String()
    subject = fields.String()
    linked_by = fields.String()
    linked_at = fields.DateTime()


class PersonWithIdentities(PersonOut):
    identities = fields.List(fields.Nested(IdentityOut))


class SsoCallbackArgs(Schema):
    """The identity platform's answer (other parameters it adds are ignored)."""

    state = fields.String(validate=validate.Length(max=200))
    code = fields.String(validate=validate.Length(max=2000))
    error = fields.String(validate=validate.Length(max=200))
    error_description = fields.String(validate=validate.Length(max=1000))
    iss = fields.String(validate=validate.Length(max=255), metadata={"description": "RFC 9207"})


class PasswordIn(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RolesIn(Schema):
    roles = fields.List(
        fields.String(validate=validate.OneOf(PERSON_ROLES)),
        required=True,
        validate=validate.Length(min=1, max=len(PERSON_ROLES)),
    )
    agency_id = fields.String(validate=validate.Length(min=1, max=40))
    credit_codes = fields.List(
        fields.String(validate=validate.Length(equal=18)), validate=validate.Length(max=50)
    )


class PeopleArgs(Schema):
    unit = fields.String(validate=CODE)


class SessionOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_at = fields.DateTime()
    refresh_token = fields.String()
    session_id = fields.String()
    session_ends_at = fields.DateTime()
    person = fields.Nested(PersonOut)
    password_change_due = fields.Boolean()


class MeOut(Schema):
    subject = fields.String(metadata={"description": "person:<id> or the API key's id"})
    name = fields.String()
    role = fields.String()
    roles = fields.List(fields.String())
    jurisdiction = fields.String()
    agency_id = fields.String(allow_none=True)


class JwksOut(Schema):
    keys = fields.List(fields.Dict())


# --- enterprise users and their enterprises ---------------------------------------------


class RegistrationIn(Schema):
    """A new enterprise account and the enterprise it asks to act for."""

    person_id = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9._-]{2,39}$")
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    unit = fields.String(
        required=True,
        validate=CODE,
        metadata={"description": "where the enterprise is registered: its office confirms"},
    )
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    credit_code = fields.String(
        required=True,
        validate=validate.Length(equal=18),
        metadata={"description": "统一社会信用代码 (GB 32100-2015)"},
    )


class EnterpriseRequestIn(Schema):
    credit_code = fields.String(required=True, validate=validate.Length(equal=18))


class DecisionIn(Schema):
    confirm = fields.Boolean(
        required=True, metadata={"description": "true: confirm; false: refuse"}
    )
    note = fields.String(validate=validate.Length(max=500))


class EnterpriseRequestOut(Schema):
    request_id = fields.Integer()
    person_id = fields.String()
    name = fields.String()
    unit = fields.String()
    credit_code = fields.String()
    status = fields.String()
    requested_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_as = fields.String(allow_none=True, metadata={"description": "office or contact"})
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)


class RegistrationOut(Schema):
    person = fields.Nested(PersonOut)
    request = fields.Nested(EnterpriseRequestOut)


class EnterpriseRequestArgs(Schema):
    status = fields.String(
        validate=validate.OneOf(("requested", "confirmed", "refused")),
        metadata={"description": "requested by default"},
    )


class EnterpriseRequestList(Schema):
    items = fields.List(fields.Nested(EnterpriseRequestOut))
