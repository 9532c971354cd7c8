"""Dispatch's request/response schemas."""

from marshmallow import RAISE, Schema, fields, validate


class AssignmentArgs(Schema):
    class Meta:
        unknown = RAISE

    demand_code = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class AssignmentOut(Schema):
    id = fields.String()
    demand_code = fields.String()
    jurisdiction = fields.String()
    kind = fields.String()
    assignee_type = fields.String()
    assignee_id = fields.String()
    assignee_name = fields.String()
    enterprise_credit_code = fields.String()
    category = fields.String()
    reason = fields.String()
    assigned_at = fields.DateTime()


class AssignmentList(Schema):
    items = fields.List(fields.Nested(AssignmentOut))


class DepartmentOut(Schema):
    id = fields.String()
    jurisdiction = fields.String()
    name = fields.String()
    segments = fields.List(fields.String())
    is_default = fields.Boolean()


class DepartmentList(Schema):
    items = fields.List(fields.Nested(DepartmentOut))


class ProgressIn(Schema):
    class Meta:
        unknown = RAISE

    stage = fields.String(required=True, validate=validate.OneOf(("started", "feedback")))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class ProgressOut(Schema):
    assignment_id = fields.String()
    demand_code = fields.String()
    stage = fields.String()
    note = fields.String()
    at = fields.DateTime()
