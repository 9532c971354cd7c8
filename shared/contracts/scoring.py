"""Events published by scoring on exchange ``onestop.scoring``: the records no other
event carries and the rule sets, so that scoring can be rebuilt from the archive."""

from marshmallow import Schema, fields

from shared.events import producer

event = producer("scoring")


class RecordEnteredV1(Schema):
    """``scoring.record_entered`` v1 — a supervisor's rating, an efficiency override, an
    assisted application or a research output, with its evidence."""

    id = fields.String(required=True)
    unit_type = fields.String(required=True)
    unit_id = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    period = fields.String(required=True)
    kind = fields.String(required=True)
    value = fields.Float(required=True)
    evidence = fields.String(required=True)
    note = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class RecordRetractedV1(Schema):
    """``scoring.record_retracted`` v1 — a record withdrawn (it stays, marked, in the trail)."""

    id = fields.String(required=True)
    reason = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class RuleSetPublishedV1(Schema):
    """``scoring.rule_set_published`` v1 — a jurisdiction's new assessment rule set."""

    jurisdiction = fields.String(required=True)
    version = fields.Integer(required=True)
    effective_from = fields.Date(required=True)
    body = fields.Dict(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


RECORD_ENTERED = "scoring.record_entered"
RECORD_RETRACTED = "scoring.record_retracted"
RULE_SET_PUBLISHED = "scoring.rule_set_published"
record_entered = event(RECORD_ENTERED, 1, RecordEnteredV1())
record_retracted = event(RECORD_RETRACTED, 1, RecordRetractedV1())
rule_set_published = event(RULE_SET_PUBLISHED, 1, RuleSetPublishedV1())
