"""Request/response schemas of the standing 包保 links (``standing``)."""

from marshmallow import Schema, fields, validate

from services.dispatch.schemas import ID, UNIT, Strict


class OwnerIn(Strict):
    department_id = fields.String(
        allow_none=True,
        load_default=None,
        validate=ID,
        metadata={"description": "omitted with a staff id: the staff member's department"},
    )
    staff_id = fields.String(allow_none=True, load_default=None, validate=ID)
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class LinkOut(Schema):
    credit_code = fields.String()
    jurisdiction = fields.String()
    enterprise_name = fields.String()
    department_id = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    staff_id = fields.String(allow_none=True)
    staff_name = fields.String(allow_none=True)
    basis = fields.String(metadata={"description": "rule:<segment>, rule:default or explicit"})
    version = fields.Integer()
    since = fields.DateTime()
    by = fields.String()
    reason = fields.String()


class LinkVersion(Schema):
    version = fields.Integer()
    department_id = fields.String(allow_none=True)
    staff_id = fields.String(allow_none=True)
    basis = fields.String()
    since = fields.DateTime()
    until = fields.DateTime(allow_none=True)
    by = fields.String()
    reason = fields.String()


class EnterpriseLinkOut(Schema):
    credit_code = fields.String()
    enterprise_name = fields.String()
    jurisdiction = fields.String()
    link = fields.Nested(LinkOut, allow_none=True)
    history = fields.List(fields.Nested(LinkVersion))


class MapArgs(Strict):
    jurisdiction = fields.String(validate=UNIT)
    department_id = fields.String(validate=ID)
    staff_id = fields.String(validate=ID)
    segment = fields.String(
        validate=validate.Length(min=1, max=150),
        metadata={"description": "key, park:<code>, field:<x>, a growth tier, default, explicit"},
    )
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class MapPage(Schema):
    items = fields.List(fields.Nested(LinkOut))
    next_cursor = fields.String(allow_none=True)


class TransferIn(Strict):
    to_staff_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    open_assignments = fields.Boolean(
        load_default=True,
        metadata={"description": "also move the person's open owner assignments (default)"},
    )


class TransferOut(Schema):
    from_staff_id = fields.String()
    to_staff_id = fields.String()
    enterprises = fields.List(fields.String())
    assignments = fields.List(fields.String(), metadata={"description": "the new assignments"})
    reason = fields.String()
