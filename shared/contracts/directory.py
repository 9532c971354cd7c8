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
    actor = fields.String(required=True)


APIKEY_ISSUED = "apikey.issued"
APIKEY_REVOKED = "apikey.revoked"
apikey_issued = event(APIKEY_ISSUED, 1, KeyV1())
apikey_revoked = event(APIKEY_REVOKED, 1, KeyV1())
