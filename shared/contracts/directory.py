"""Events published by the directory on exchange ``onestop.directory``: the unit tree and
the API keys, which every service copies (``shared.directory``) and the archive keeps."""

from marshmallow import Schema, fields, validate

from shared.events import producer

event = producer("directory")

LEVELS = ("province", "prefecture", "county", "township", "park", "station", "workstation")
SOURCES = ("gb2260", "mca", "nbs", "platform")  # GB/T 2260; MCA and NBS township codes


class UnitV1(Schema):
    """A unit as it is after the change (every ``jurisdiction.*`` event carries it whole)."""

    code = fields.String(required=True, validate=validate.Length(min=6, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent = fields.String(allow_none=True, load_default=None)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    retired_at = fields.AwareDateTime(format="iso", allow_none=True, load_default=None)
    successor = fields.String(allow_none=True, load_default=None)
    change = fields.Dict(
        metadata={"description": "what changed: old_name, old_parent, reason"}, load_default=dict
    )
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


JURISDICTION_OPENED = "jurisdiction.opened"
JURISDICTION_RENAMED = "jurisdiction.renamed"
JURISDICTION_MOVED = "jurisdiction.moved"
JURISDICTION_RETIRED = "jurisdiction.retired"
JURISDICTION_REOPENED = "jurisdiction.reopened"
jurisdiction_opened = event(JURISDICTION_OPENED, 1, UnitV1())
jurisdiction_renamed = event(JURISDICTION_RENAMED, 1, UnitV1())
jurisdiction_moved = event(JURISDICTION_MOVED, 1, UnitV1())
jurisdiction_retired = event(JURISDICTION_RETIRED, 1, UnitV1())
jurisdiction_reopened = event(JURISDICTION_REOPENED, 1, UnitV1())


class KeyV1(Schema):
    """An API key as it is after the change — never its secret, only the secret's SHA-256
    (the secret is 32 random bytes: the digest reveals nothing usable)."""

    key_id = fields.String(required=True, validate=validate.Length(min=1, max=16))
    secret_sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    name = fields.String(required=True)
    role = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    agency_id = fields.String(allow_none=True, load_default=None)
    created_at = fields.AwareDateTime(required=True, format="iso")
    revoked_at = fields.AwareDateTime(format="iso", allow_none=True, load_default=None)
    # optional additions (same version): a rotated key's end, a key's allowed actions
    expires_at = fields.AwareDateTime(format="iso", allow_none=True, load_default=None)
    scopes = fields.List(fields.String(), allow_none=True, load_default=None)
    actor = fields.String(required=True)


APIKEY_ISSUED = "apikey.issued"
APIKEY_REVOKED = "apikey.revoked"
APIKEY_ROTATED = "apikey.rotated"  # the old key, now with the end of its overlap
apikey_issued = event(APIKEY_ISSUED, 1, KeyV1())
apikey_revoked = event(APIKEY_REVOKED, 1, KeyV1())
apikey_rotated = event(APIKEY_ROTATED, 1, KeyV1())


# --- people -----------------------------------------------------------------------------

PERSON_ROLES = (
    "sysadmin",  # 系统管理员: units and keys
    "secadmin",  # 安全管理员: accounts and roles
    "auditor",  # 审计管理员: reads the security trail
    "leader",  # 领导: KPIs, breaches, rankings
    "office_staff",  # 科技部门工作人员
    "station_staff",  # 服务站工作人员
    "commissioner",  # 科技特派员
    "agency_clerk",  # 服务机构人员 (bound to one agency)
    "enterprise",  # 企业用户 (bound to the credit codes it may act for)
)
ADMIN_ROLES = ("sysadmin", "secadmin", "auditor")  # 三员: kept apart, a second factor each


class PersonV1(Schema):
    """A person's account as it is after the change — never a password or a secret."""

    person_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True)
    unit = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(PERSON_ROLES)), required=True)
    agency_id = fields.String(allow_none=True, load_default=None)
    staff_id = fields.String(allow_none=True, load_default=None)
    credit_codes = fields.List(fields.String(), load_default=list)
    disabled = fields.Boolean(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


PERSON_CREATED = "person.created"
PERSON_UPDATED = "person.updated"
person_created = event(PERSON_CREATED, 1, PersonV1())
person_updated = event(PERSON_UPDATED, 1, PersonV1())


class BindingV1(Schema):
    """An enterprise user's request to act for an enterprise, as it is after the change:
    asked (``requested``), or decided by the enterprise's office or its registered contact
    (``decided_as``). A confirmation also changes the account (``person.updated``)."""

    request_id = fields.Integer(required=True)
    person_id = fields.String(required=True)
    credit_code = fields.String(required=True, validate=validate.Length(equal=18))
    status = fields.String(
        required=True, validate=validate.OneOf(("requested", "confirmed", "refused"))
    )
    decided_as = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(("office", "contact"))
    )
    note = fields.String(allow_none=True, load_default=None)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


PERSON_BINDING_CHANGED = "person.binding_changed"
person_binding_changed = event(PERSON_BINDING_CHANGED, 1, BindingV1())


class IdentityV1(Schema):
    """Who a person is at the province's identity platform, linked to the account or
    unlinked from it (single sign-on), and by whom."""

    person_id = fields.String(required=True)
    issuer = fields.String(required=True)
    subject = fields.String(required=True)
    linked = fields.Boolean(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


PERSON_IDENTITY_CHANGED = "person.identity_changed"
person_identity_changed = event(PERSON_IDENTITY_CHANGED, 1, IdentityV1())


class SecurityEventV1(Schema):
    """A security event of one account (log-in, failure, lock-out, sign-out): kept in the
    archive's chain for the audit administrator; nobody deletes it."""

    person_id = fields.String(required=True)
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(("signed_in", "refused", "locked", "signed_out", "refreshed")),
    )
    reason = fields.String(required=True)
    session_id = fields.String(allow_none=True, load_default=None)
    failures = fields.Integer(load_default=0)
    locked_until = fields.AwareDateTime(format="iso", allow_none=True, load_default=None)
    at = fields.AwareDateTime(required=True, format="iso")


PERSON_SIGNED_IN = "person.signed_in"
PERSON_SIGN_IN_REFUSED = "person.sign_in_refused"
PERSON_SIGNED_OUT = "person.signed_out"
person_signed_in = event(PERSON_SIGNED_IN, 1, SecurityEventV1())
person_sign_in_refused = event(PERSON_SIGN_IN_REFUSED, 1, SecurityEventV1())
person_signed_out = event(PERSON_SIGNED_OUT, 1, SecurityEventV1())


class SigningKeyV1(Schema):
    """A public key the directory signs access tokens with (a JWK), or its retirement:
    every service verifies tokens against the keys it was told of."""

    kid = fields.String(required=True)
    public_jwk = fields.Dict(required=True)
    created_at = fields.AwareDateTime(required=True, format="iso")
    retired_at = fields.AwareDateTime(format="iso", allow_none=True, load_default=None)


SIGNING_KEY_PUBLISHED = "signing_key.published"
SIGNING_KEY_RETIRED = "signing_key.retired"
signing_key_published = event(SIGNING_KEY_PUBLISHED, 1, SigningKeyV1())
signing_key_retired = event(SIGNING_KEY_RETIRED, 1, SigningKeyV1())
