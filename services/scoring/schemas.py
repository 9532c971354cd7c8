"""Scoring's request/response schemas."""

from marshmallow import RAISE, Schema, fields, validate

from services.scoring.domain import MONTH_RE


class TallyArgs(Schema):
    class Meta:
        unknown = RAISE

    period = fields.String(
        required=True, validate=validate.Regexp(MONTH_RE, error="must be YYYY-MM")
    )
    unit_id = fields.String()


class TallyRecord(Schema):
    event_id = fields.String()
    demand_code = fields.String(allow_none=True)


class TallyOut(Schema):
    unit_type = fields.String()
    unit_id = fields.String()
    unit_name = fields.String()
    period = fields.String()
    item = fields.String()
    stage = fields.String()
    count = fields.Integer()
    records = fields.List(fields.Nested(TallyRecord))


class TallyList(Schema):
    items = fields.List(fields.Nested(TallyOut))
