"""Events published by intake on exchange ``onestop.intake``."""

import re

from marshmallow import Schema, fields, validate

from shared.events import UNIT_CODE_RE, producer

event = producer("intake")

CATEGORIES = ("technology", "talent", "funding", "achievement_transfer", "ip", "other")
COMPLEXITIES = ("simple", "general", "complex")
STATUSES = ("accepted", "in_progress", "feedback", "follow_up", "closed", "rejected")
SOURCES = ("window", "online", "field_visit", "forum", "phone_email", "scenario_list", "order")

# A demand's unified code: the code of the unit it is filed in, the year, a six-digit
# sequence (``630102-2026-000001``, ``630102-P0001-W0001-2026-000001``); at most 27 + 12
# characters, so every service stores it in a column this wide.
DEMAND_CODE_RE = re.compile(UNIT_CODE_RE.pattern.removesuffix("$") + r"-\d{4}-\d{6}$")
DEMAND_CODE_LENGTH = 40


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
    # optional additions (same version): the service item and the promised time limit
    service_item = fields.String()
    agency_category = fields.String(
        allow_none=True, validate=validate.OneOf(("finance", "rd", "patent", "general"))
    )
    ordered_agency = fields.String(metadata={"description": "企业点单: the agency named"})
    complexity = fields.String(validate=validate.OneOf(COMPLEXITIES))
    expected_at = fields.AwareDateTime(format="iso")
    deadline_provisional = fields.Boolean()
    contact = fields.Dict(metadata={"description": "name, phone, email: handling parties only"})
    visit_id = fields.String(metadata={"description": "the visit (服务进企) it was raised on"})
    received_at = fields.AwareDateTime(
        format="iso",
        metadata={"description": "when the enterprise raised it, when collected offline"},
    )
    respond_by = fields.AwareDateTime(
        format="iso",
        metadata={"description": "the first response is due by (working hours from receipt)"},
    )


DEMAND_ACCEPTED = "demand.accepted"
demand_accepted = event(DEMAND_ACCEPTED, 1, DemandAcceptedV1())


class DemandStatusChangedV1(Schema):
    """``demand.status_changed`` v1 — one step of the closed loop (受理→办理→反馈→跟踪→办结)."""

    demand_code = fields.String(required=True)
    from_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(required=True)
    resolution = fields.String(allow_none=True, validate=validate.OneOf(("solved", "unsolvable")))
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    on_time = fields.Boolean(allow_none=True, metadata={"description": "set when closing"})


# The actor of a screening the platform made itself (deadlines recomputed on a newly
# published holiday calendar): not the owner's response.
CALENDAR_ACTOR = "system"


class DemandScreenedV1(Schema):
    """``demand.screened`` v1 — complexity, urgency, feasibility set; the deadline
    recomputed (by the owner, or by the platform: ``actor`` = ``CALENDAR_ACTOR``)."""

    demand_code = fields.String(required=True)
    complexity = fields.String(required=True, validate=validate.OneOf(COMPLEXITIES))
    urgency = fields.String(allow_none=True)
    feasibility = fields.String(allow_none=True)
    expected_at = fields.AwareDateTime(required=True, format="iso")
    deadline_provisional = fields.Boolean(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class DemandRevisitedV1(Schema):
    """``demand.revisited`` v1 — the satisfaction revisit (满意度回访) of a closed demand."""

    demand_code = fields.String(required=True)
    rating = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(required=True)
    reopened = fields.Boolean(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


DEMAND_STATUS_CHANGED = "demand.status_changed"
DEMAND_SCREENED = "demand.screened"
DEMAND_REVISITED = "demand.revisited"
demand_status_changed = event(DEMAND_STATUS_CHANGED, 1, DemandStatusChangedV1())
demand_screened = event(DEMAND_SCREENED, 1, DemandScreenedV1())
demand_revisited = event(DEMAND_REVISITED, 1, DemandRevisitedV1())


class EnterpriseV1(Schema):
    """``enterprise.registered`` / ``enterprise.updated`` v1 — the enterprise profile,
    with the SX coverage flags dispatch assigns named persons by."""

    credit_code = fields.String(required=True, validate=validate.Length(equal=18))
    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    technology_field = fields.String(allow_none=True)
    growth_tier = fields.String(allow_none=True)
    is_key = fields.Boolean(required=True)
    needs_named_person = fields.Boolean(required=True)
    needs_one_plan = fields.Boolean(required=True)
    revenue = fields.Integer(allow_none=True)
    has_rd_activity = fields.Boolean(allow_none=True)
    has_rd_institution = fields.Boolean(allow_none=True)


ENTERPRISE_REGISTERED = "enterprise.registered"
ENTERPRISE_UPDATED = "enterprise.updated"
enterprise_registered = event(ENTERPRISE_REGISTERED, 1, EnterpriseV1())
enterprise_updated = event(ENTERPRISE_UPDATED, 1, EnterpriseV1())


class DemandConsentChangedV1(Schema):
    """``demand.consent_changed`` v1 — the enterprise granted or withdrew its consent to
    share the demand's content beyond the parties handling it (XN 保密: the assigned agency
    reads it either way). ``brief`` (title, description, contact) travels only with a grant,
    for the handling parties."""

    demand_code = fields.String(required=True)
    consent_to_share = fields.Boolean(required=True)
    brief = fields.Dict(allow_none=True, load_default=None)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


DEMAND_CONSENT_CHANGED = "demand.consent_changed"
demand_consent_changed = event(DEMAND_CONSENT_CHANGED, 1, DemandConsentChangedV1())
