"""Scoring's request/response schemas (the OpenAPI document is generated from them)."""

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.scoring.domain.facts import MONTH_RE, parse_period
from services.scoring.domain.records import RECORD_KINDS
from services.scoring.domain.table import COUNT_INPUTS, OVERRIDE_INPUTS, RATING_INPUTS
from shared.events import UNIT_CODE_RE

CODE = validate.Regexp(UNIT_CODE_RE, error="not a unit code")  # any unit of the tree
PERIOD = "YYYY-MM-DD (a day: 日调度), YYYY-Www (an ISO week: 周推进), YYYY-MM, YYYY-Qn or YYYY"


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _tally_period(text: str) -> None:
    try:
        kind = parse_period(text).kind
    except ValueError:
        kind = None
    if kind not in ("month", "week", "day"):
        raise ValidationError("must be YYYY-MM, YYYY-Www or YYYY-MM-DD")


class TallyArgs(Strict):
    period = fields.String(
        required=True,
        validate=_tally_period,
        metadata={"description": "YYYY-MM, YYYY-Www or YYYY-MM-DD"},
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


class ItemOut(Schema):
    item = fields.String()
    title = fields.String()
    points = fields.Float()
    cap = fields.Float()
    rule = fields.String()
    basis = fields.Dict(metadata={"description": "the figures the points came from"})
    records_total = fields.Integer(metadata={"description": "how many records stand behind"})
    records = fields.List(
        fields.Dict(),
        metadata={
            "description": "a unit's scorecard: the first records behind the points (up to "
            "50; the rest at /scorecards/records); not in rankings"
        },
    )


class ItemRecordsArgs(Schema):
    unit = fields.String(required=True, validate=validate.Length(min=1, max=40))
    period = fields.String(required=True, metadata={"description": PERIOD})
    item = fields.String(required=True, validate=validate.Length(min=1, max=60))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ItemRecordsOut(Schema):
    unit = fields.String()
    period = fields.String()
    item = fields.String()
    total = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Dict(), metadata={"description": "each names the input it fed"})


class PartOut(Schema):
    part = fields.String()
    title = fields.String()
    points = fields.Float()
    bonus = fields.Boolean()
    subtotal = fields.Float()
    items = fields.List(fields.Nested(ItemOut))


class ScorecardOut(Schema):
    unit = fields.Dict()
    period = fields.String()
    rule_set = fields.Dict(metadata={"description": "jurisdiction, version and name used"})
    parts = fields.List(fields.Nested(PartOut))
    total = fields.Float()
    rank = fields.Integer()
    ranked_among = fields.Integer()


class ScorecardArgs(Strict):
    unit = fields.String(required=True, metadata={"description": "a staff or department id"})
    period = fields.String(required=True, metadata={"description": PERIOD})


class RankingArgs(Strict):
    jurisdiction = fields.String(required=True, validate=CODE)
    unit_type = fields.String(
        load_default="department", validate=validate.OneOf(("department", "staff"))
    )
    period = fields.String(required=True, metadata={"description": PERIOD})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx")))


class RankingOut(Schema):
    jurisdiction = fields.String()
    unit_type = fields.String()
    period = fields.String()
    items = fields.List(fields.Nested(ScorecardOut))


class EvaluateIn(Strict):
    jurisdiction = fields.String(validate=CODE, metadata={"description": "default: yours"})
    version = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "a published version (0 = table A.1); default: in force"},
    )
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNT_INPUTS)),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000)),
        load_default=dict,
        metadata={"description": f"any of: {', '.join(COUNT_INPUTS)}"},
    )
    ratings = fields.Dict(
        keys=fields.String(validate=validate.OneOf(tuple(RATING_INPUTS))),
        values=fields.List(fields.Float(), validate=validate.Length(min=1, max=1000)),
        load_default=dict,
        metadata={
            "description": "lists of ratings: integrity_rating and attitude_rating 0–5, "
            "satisfaction 1–5"
        },
    )
    overrides = fields.Dict(
        keys=fields.String(validate=validate.OneOf(tuple(OVERRIDE_INPUTS))),
        values=fields.Float(validate=validate.Range(min=0, max=15)),
        load_default=dict,
    )

    @validates_schema
    def _ratings_in_range(self, data: dict[str, Any], **_: Any) -> None:
        for name, values in (data.get("ratings") or {}).items():
            low, high = RATING_INPUTS[name]
            if any(not low <= v <= high for v in values):
                raise ValidationError(
                    {"ratings": {name: [f"ratings are between {low} and {high}"]}}
                )


class EvaluateOut(Schema):
    rule_set = fields.Dict()
    parts = fields.List(fields.Nested(PartOut))
    total = fields.Float()


class RecordIn(Strict):
    unit_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    period = fields.String(
        required=True, validate=validate.Regexp(MONTH_RE, error="must be YYYY-MM")
    )
    kind = fields.String(required=True, validate=validate.OneOf(RECORD_KINDS))
    value = fields.Float(
        required=True,
        metadata={"description": "a rating (0–5), an override (0–15) or a count (>= 1)"},
    )
    evidence = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "where the proof is: a document number, a link"},
    )
    note = fields.String(validate=validate.Length(max=2000))


class RecordOut(Schema):
    id = fields.String()
    unit_type = fields.String()
    unit_id = fields.String()
    jurisdiction = fields.String()
    period = fields.String()
    kind = fields.String()
    value = fields.Float()
    evidence = fields.String()
    note = fields.String()
    actor = fields.String()
    at = fields.DateTime()
    retracted_at = fields.DateTime(allow_none=True)
    retracted_by = fields.String(allow_none=True)
    retract_reason = fields.String(allow_none=True)


class RecordArgs(Strict):
    unit = fields.String(required=True)
    period = fields.String(required=True, metadata={"description": PERIOD})


class RecordList(Schema):
    items = fields.List(fields.Nested(RecordOut))


class RetractIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class RuleSetIn(Strict):
    effective_from = fields.Date(required=True)
    rule_set = fields.Dict(
        required=True, metadata={"description": "parts → items (see GET for the default)"}
    )


class RuleSetOut(Schema):
    jurisdiction = fields.String()
    source = fields.String()
    version = fields.Integer(metadata={"description": "0 = table A.1"})
    rule_set = fields.Dict()
    notes = fields.List(fields.String())
    versions = fields.List(fields.Dict())


class KpiArgs(Strict):
    jurisdiction = fields.String(required=True, validate=CODE)
    period = fields.String(required=True, metadata={"description": PERIOD})


class KpiOut(Schema):
    jurisdiction = fields.String()
    period = fields.String()
    demands = fields.Dict()
    station_coverage = fields.Dict()
    sx_targets = fields.Dict()
