"""Request/response schemas of the expert pool and co-handling (kept apart from
``schemas``: the OpenAPI document is generated from both)."""

from marshmallow import Schema, fields, validate

from services.dispatch.cotasks import AVAILABILITY, KINDS, OUTCOMES, STATUSES
from services.dispatch.schemas import ID, UNIT, Strict


class ExpertIn(Strict):
    jurisdiction = fields.String(
        required=True, validate=UNIT, metadata={"description": "the unit whose pool it is in"}
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    fields_ = fields.List(  # ``fields`` would shadow marshmallow's module in the class body
        fields.String(validate=validate.Length(min=1, max=40)),
        data_key="fields",
        attribute="fields",
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "technology fields", "example": ["新材料", "锂电池"]},
    )
    institution = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    availability = fields.String(load_default="available", validate=validate.OneOf(AVAILABILITY))
    unavailable_until = fields.Date(
        allow_none=True,
        metadata={"description": "the last day away (unavailable only; null: open-ended)"},
    )


class ExpertOut(Schema):
    id = fields.String()
    jurisdiction = fields.String()
    name = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    institution = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    availability = fields.String()
    unavailable_until = fields.Date(allow_none=True)
    available_today = fields.Boolean()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class ExpertArgs(Strict):
    field = fields.String(validate=validate.Length(min=1, max=40))
    available = fields.Boolean(metadata={"description": "available today (or not)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class ExpertList(Schema):
    items = fields.List(fields.Nested(ExpertOut))


class CoHandlerIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    id = fields.String(validate=ID, metadata={"description": "the department's or the expert's id"})
    name = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"description": "an institute's name"}
    )
    contact = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "an institute's contact person and phone"},
    )
    task = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    due_on = fields.Date(required=True, metadata={"description": "due by the end of this day"})


class CoTaskOut(Schema):
    id = fields.String()
    demand_code = fields.String()
    jurisdiction = fields.String()
    lead_assignment_id = fields.String()
    lead_department_id = fields.String()
    category = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    cohandler_id = fields.String()
    cohandler_name = fields.String()
    cohandler_jurisdiction = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    task = fields.String()
    due_on = fields.Date()
    due_at = fields.DateTime()
    status = fields.String(validate=validate.OneOf(STATUSES))
    assigned_by = fields.String()
    assigned_at = fields.DateTime()
    outcome = fields.String(allow_none=True)
    feedback = fields.String(allow_none=True)
    reported_by = fields.String(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class CoTaskList(Schema):
    items = fields.List(fields.Nested(CoTaskOut))


class FeedbackIn(Strict):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    feedback = fields.String(required=True, validate=validate.Length(min=1, max=2000))
