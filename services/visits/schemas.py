"""Visits' request/response schemas."""

from marshmallow import RAISE, Schema, fields, validate


class LinkArgs(Schema):
    class Meta:
        unknown = RAISE

    enterprise = fields.String(metadata={"description": "unified social credit code"})
    unit_id = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class LinkOut(Schema):
    enterprise_credit_code = fields.String()
    unit_type = fields.String()
    unit_id = fields.String()
    unit_name = fields.String()
    jurisdiction = fields.String()
    since = fields.DateTime()
    last_demand_code = fields.String()
    demand_count = fields.Integer()


class LinkList(Schema):
    items = fields.List(fields.Nested(LinkOut))
