"""Events published by intake on exchange ``onestop.intake``."""

from marshmallow import Schema, fields, validate

from shared.events import register

CATEGORIES = ("technology", "talent", "funding", "achievement_transfer", "ip", "other")
SOURCES = ("window", "online", "field_visit", "forum", "phone_email", "scenario_list", "order")


class EnterpriseRef(Schema):
    credit_code = fields.String(required=True, validate=validate.Length(equal=18))
    name = fields.String(required=True)


class DemandAcceptedV1(Schema):
    """``demand.accepted`` v1 — a demand was received and given its unified code."""

    demand_code = fields.String(required=True)
    enterprise = fields.Nested(EnterpriseRef, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    title = fields.String(required=True)
    description = fields.String(required=True)
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    consent_to_share = fields.Boolean(required=True)
    accepted_at = fields.AwareDateTime(required=True, format="iso")
    accepted_by = fields.String(required=True)


DEMAND_ACCEPTED = "demand.accepted"
register(DEMAND_ACCEPTED, 1, DemandAcceptedV1())
