"""Events published by visits on exchange ``onestop.visits``."""

from marshmallow import Schema, fields, validate

from shared.contracts.intake import CATEGORIES, COMPLEXITIES
from shared.events import producer

event = producer("visits")

KINDS = ("policy_briefing", "demand_survey", "problem_solving", "resource_matching", "follow_up")


class VisitEnterprise(Schema):
    credit_code = fields.String(required=True)
    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)


class RaisedDemand(Schema):
    """A demand found on the visit; intake creates it (source ``field_visit``)."""

    credit_code = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    service_item = fields.String(allow_none=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    consent_to_share = fields.Boolean(required=True)
    contact = fields.Dict(allow_none=True)
    complexity = fields.String(allow_none=True, validate=validate.OneOf(COMPLEXITIES))


class VisitV1(Schema):
    """``visit.logged`` / ``visit.revised`` v1 — an on-site visit (服务进企) and each
    later version of it (edits never overwrite)."""

    visit_id = fields.String(required=True)
    version = fields.Integer(required=True)
    staff_id = fields.String(allow_none=True)
    staff_name = fields.String(allow_none=True)
    department_id = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    enterprises = fields.List(fields.Nested(VisitEnterprise), required=True)
    visited_on = fields.Date(required=True)
    started_at = fields.AwareDateTime(allow_none=True, format="iso")
    ended_at = fields.AwareDateTime(allow_none=True, format="iso")
    duration_minutes = fields.Integer(allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    participants = fields.List(fields.String(), required=True)
    findings = fields.String(required=True)
    outcomes = fields.String(required=True)
    demands_raised = fields.List(fields.Nested(RaisedDemand), required=True)
    follow_up_of = fields.List(fields.String(), required=True)
    logged_by = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")
    reason = fields.String(allow_none=True, metadata={"description": "why a revision was made"})


class DemandLinkedV1(Schema):
    """``visit.demand_linked`` v1 — a demand raised on a visit (once intake created it),
    or an existing demand the visit followed up."""

    visit_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    link = fields.String(required=True, validate=validate.OneOf(("raised", "follow_up")))
    credit_code = fields.String(allow_none=True)
    at = fields.AwareDateTime(required=True, format="iso")


class VisitOverdueV1(Schema):
    """``visit.overdue`` v1 — a period closed short of a frequency rule for one subject."""

    rule = fields.String(required=True)
    rule_version = fields.Integer(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.String(required=True)
    subject_name = fields.String(required=True)
    period = fields.String(required=True)
    required_count = fields.Integer(required=True)
    done = fields.Integer(required=True)
    shortfall = fields.Integer(required=True)
    source = fields.String(required=True)


class PlanStatusChangedV1(Schema):
    """``visit_plan.status_changed`` v1 — a planned visit was scheduled, done, missed or
    cancelled."""

    plan_id = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(
        required=True, validate=validate.OneOf(("planned", "done", "missed", "cancelled"))
    )
    planned_on = fields.Date(required=True)
    reason = fields.String(allow_none=True)
    visit_id = fields.String(allow_none=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


VISIT_LOGGED = "visit.logged"
VISIT_REVISED = "visit.revised"
DEMAND_LINKED = "visit.demand_linked"
VISIT_OVERDUE = "visit.overdue"
PLAN_STATUS_CHANGED = "visit_plan.status_changed"
visit_logged = event(VISIT_LOGGED, 1, VisitV1())
visit_revised = event(VISIT_REVISED, 1, VisitV1())
demand_linked = event(DEMAND_LINKED, 1, DemandLinkedV1())
visit_overdue = event(VISIT_OVERDUE, 1, VisitOverdueV1())
plan_status_changed = event(PLAN_STATUS_CHANGED, 1, PlanStatusChangedV1())
