"""Events published by dispatch on exchange ``onestop.dispatch``."""

from marshmallow import Schema, fields, validate

from shared.events import register


class AssignmentMadeV1(Schema):
    """``assignment.made`` v1 — a demand got its responsible owner (or an agency)."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("owner", "agency")))
    assignee_type = fields.String(
        required=True, validate=validate.OneOf(("department", "staff", "agency"))
    )
    assignee_id = fields.String(required=True)
    assignee_name = fields.String(required=True)
    enterprise_credit_code = fields.String(required=True)
    category = fields.String(required=True)
    reason = fields.String(required=True)
    assigned_at = fields.AwareDateTime(required=True, format="iso")


class AssignmentFailedV1(Schema):
    """``assignment.failed`` v1 — alert: no possible owner for a demand."""

    demand_code = fields.String(required=True)
    reason = fields.String(required=True)


ASSIGNMENT_MADE = "assignment.made"
ASSIGNMENT_FAILED = "assignment.failed"
register(ASSIGNMENT_MADE, 1, AssignmentMadeV1())
register(ASSIGNMENT_FAILED, 1, AssignmentFailedV1())


class ProgressReportedV1(Schema):
    """``assignment.progress_reported`` v1 — the owner or agency reports progress on a
    demand; intake moves the demand's loop accordingly (started → in_progress,
    feedback → feedback)."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(("started", "feedback")))
    note = fields.String(required=True)
    reported_by = fields.String(required=True)
    assignee_type = fields.String(required=True)
    assignee_name = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


PROGRESS_REPORTED = "assignment.progress_reported"
register(PROGRESS_REPORTED, 1, ProgressReportedV1())
