"""Events published by dispatch on exchange ``onestop.dispatch``."""

from marshmallow import Schema, fields, validate

from shared.events import producer

event = producer("dispatch")

DECISION_OUTCOMES = ("ordered", "rotation", "cap_override", "no_agency", "blacklisted")
ORDER_STATUSES = (
    "open",  # an owner assignment in progress
    "done",  # an owner assignment whose demand closed or was rejected
    "dispatched",
    "acknowledged",
    "in_progress",
    "refused",
    "completed",
    "reassigned",
    "withdrawn",
)
COHANDLER_KINDS = ("department", "expert", "institute")
COTASK_STATUSES = ("open", "reported", "ended_with_demand")


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
    # optional additions (same version), set on agency assignments
    service_item = fields.String()
    value = fields.Integer(metadata={"description": "the standard price (CNY) counted in caps"})
    decision_id = fields.Integer()
    decision_outcome = fields.String(validate=validate.OneOf(DECISION_OUTCOMES))
    due_at = fields.AwareDateTime(allow_none=True, format="iso")
    replaces = fields.String(metadata={"description": "the assignment this one takes over (调单)"})


class AssignmentFailedV1(Schema):
    """``assignment.failed`` v1 — alert: no possible owner (or no agency) for a demand."""

    demand_code = fields.String(required=True)
    reason = fields.String(required=True)
    kind = fields.String(validate=validate.OneOf(("owner", "agency")))
    decision_id = fields.Integer()


ASSIGNMENT_MADE = "assignment.made"
ASSIGNMENT_FAILED = "assignment.failed"
assignment_made = event(ASSIGNMENT_MADE, 1, AssignmentMadeV1())
assignment_failed = event(ASSIGNMENT_FAILED, 1, AssignmentFailedV1())


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
progress_reported = event(PROGRESS_REPORTED, 1, ProgressReportedV1())


class AssignmentStatusChangedV1(Schema):
    """``assignment.status_changed`` v1 — an agency order moved (acknowledged, started,
    completed, refused, coordinated, reassigned, withdrawn)."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    assignee_type = fields.String(required=True)
    assignee_id = fields.String(required=True)
    action = fields.String(required=True)
    from_status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    note = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")
    goal_reached = fields.Boolean(allow_none=True)
    funds_received_on = fields.Date(allow_none=True)
    settlement_due = fields.Date(allow_none=True)


class ComplaintFiledV1(Schema):
    """``assignment.complaint_filed`` v1 — the enterprise or the owner complains about an order."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    assignee_id = fields.String(required=True)
    source = fields.String(required=True, validate=validate.OneOf(("enterprise", "owner")))
    complaint_id = fields.Integer(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class DeadlineV1(Schema):
    """``assignment.deadline`` v1 — a warning before an assignment's time limit, or the
    overdue breach after it, escalated to the responsible leader; or ``unanswered``: the
    owner has not responded by the demand's first-response limit (``due_at``), escalated
    the same way."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(("owner", "agency", "cohandler")),
        metadata={"description": "cohandler: a co-task (assignment_id is its id)"},
    )
    assignee_id = fields.String(required=True)
    level = fields.String(
        required=True, validate=validate.OneOf(("warning", "overdue", "unanswered"))
    )
    due_at = fields.AwareDateTime(required=True, format="iso")
    escalate_to = fields.Dict(allow_none=True, metadata={"description": "{staff_id, name, title}"})
    at = fields.AwareDateTime(required=True, format="iso")


class AgencyStatusChangedV1(Schema):
    """``agency.status_changed`` v1 — admitted, paused (until a date), resumed, exited."""

    agency_id = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(
        required=True, validate=validate.OneOf(("active", "paused", "exited"))
    )
    paused_until = fields.Date(allow_none=True)
    reason = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class EnterpriseBlacklistedV1(Schema):
    """``enterprise.blacklisted`` v1 — 企业黑名单 (CX 第二十一条): no more agency dispatch."""

    credit_code = fields.String(required=True)
    city = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(("abandoned", "refused_payment")))
    assignment_id = fields.String(allow_none=True)
    note = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


class OrderDetails(Schema):
    title = fields.String(required=True)
    description = fields.String(required=True)
    contact = fields.Dict(allow_none=True)


class OrderTerms(Schema):
    price = fields.Integer(allow_none=True)
    bond = fields.Integer(required=True)
    bond_reason = fields.String(allow_none=True)
    settlement = fields.String(required=True)


class OrderDispatchedV1(Schema):
    """``agency.order_dispatched`` v1 — what one agency's own queue receives: the order,
    with the demand's content only when the enterprise consented to share it."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    agency_id = fields.String(required=True)
    service_item = fields.String(required=True)
    agency_category = fields.String(required=True)
    enterprise = fields.Dict(required=True, metadata={"description": "{credit_code, name}"})
    consent_to_share = fields.Boolean(required=True)
    details = fields.Nested(OrderDetails, allow_none=True)
    terms = fields.Nested(OrderTerms, required=True)
    due_at = fields.AwareDateTime(allow_none=True, format="iso")
    decision = fields.Dict(required=True, metadata={"description": "{outcome, reason}"})
    dispatched_at = fields.AwareDateTime(required=True, format="iso")


class OrderWithdrawnV1(Schema):
    """``agency.order_withdrawn`` v1 — an order taken back from an agency (the demand was
    rejected or closed, the order reassigned, or a refusal resolved)."""

    assignment_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    agency_id = fields.String(required=True)
    reason = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


ASSIGNMENT_STATUS_CHANGED = "assignment.status_changed"
COMPLAINT_FILED = "assignment.complaint_filed"
DEADLINE = "assignment.deadline"
AGENCY_STATUS_CHANGED = "agency.status_changed"
ENTERPRISE_BLACKLISTED = "enterprise.blacklisted"
ORDER_DISPATCHED = "agency.order_dispatched"
ORDER_WITHDRAWN = "agency.order_withdrawn"
assignment_status_changed = event(ASSIGNMENT_STATUS_CHANGED, 1, AssignmentStatusChangedV1())
complaint_filed = event(COMPLAINT_FILED, 1, ComplaintFiledV1())
deadline = event(DEADLINE, 1, DeadlineV1())
agency_status_changed = event(AGENCY_STATUS_CHANGED, 1, AgencyStatusChangedV1())
enterprise_blacklisted = event(ENTERPRISE_BLACKLISTED, 1, EnterpriseBlacklistedV1())
order_dispatched = event(ORDER_DISPATCHED, 1, OrderDispatchedV1())
order_withdrawn = event(ORDER_WITHDRAWN, 1, OrderWithdrawnV1())


class DepartmentUpdatedV1(Schema):
    """``department.updated`` v1 — an entry of the responsibility map (包保责任部室) was
    created or changed; visits keeps its list of units (and leaders) from it."""

    id = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    name = fields.String(required=True)
    segments = fields.List(fields.String(), required=True)
    is_default = fields.Boolean(required=True)
    leader_staff_id = fields.String(allow_none=True)
    # how enterprises reach it (the dossier's contact list); absent in earlier events
    phone = fields.String(allow_none=True, load_default=None)
    service_hours = fields.String(allow_none=True, load_default=None)


class StaffUpdatedV1(Schema):
    """``staff.updated`` v1 — a staff member of a department was created or changed."""

    id = fields.String(required=True)
    department_id = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, load_default=None)  # absent in earlier events


DEPARTMENT_UPDATED = "department.updated"
STAFF_UPDATED = "staff.updated"
department_updated = event(DEPARTMENT_UPDATED, 1, DepartmentUpdatedV1())
staff_updated = event(STAFF_UPDATED, 1, StaffUpdatedV1())


class AgencyKeyIssuedV1(Schema):
    """``agency.key_issued`` v1 — dispatch admitted an agency and made its API key (handed
    out once in the admission's answer); the directory keeps it with every other key and
    announces it (``apikey.issued``). The secret's SHA-256 only, never the secret."""

    key_id = fields.String(required=True, validate=validate.Length(min=1, max=16))
    secret_sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    agency_id = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True, format="iso")
    actor = fields.String(required=True)


AGENCY_KEY_ISSUED = "agency.key_issued"
agency_key_issued = event(AGENCY_KEY_ISSUED, 1, AgencyKeyIssuedV1())


class CoTaskV1(Schema):
    """``cohandling.assigned`` / ``cohandling.reported`` / ``cohandling.ended`` v1 — a
    co-handler's task on a complex demand (XN 联合处置) as it stands after the change: given
    by the lead owner's office, reported on by the co-handler (its outcome and feedback),
    or ended with its demand (closed or rejected before the co-handler reported)."""

    cotask_id = fields.String(required=True)
    demand_code = fields.String(required=True)
    category = fields.String(required=True)
    lead_department_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(COHANDLER_KINDS))
    cohandler_id = fields.String(
        required=True, metadata={"description": "department or expert id; '' for an institute"}
    )
    cohandler_name = fields.String(required=True)
    cohandler_jurisdiction = fields.String(allow_none=True)
    task = fields.String(required=True)
    due_on = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(COTASK_STATUSES))
    outcome = fields.String(allow_none=True, validate=validate.OneOf(("done", "unable")))
    feedback = fields.String(allow_none=True)
    actor = fields.String(required=True)
    at = fields.AwareDateTime(required=True, format="iso")


COHANDLING_ASSIGNED = "cohandling.assigned"
COHANDLING_REPORTED = "cohandling.reported"
COHANDLING_ENDED = "cohandling.ended"
cohandling_assigned = event(COHANDLING_ASSIGNED, 1, CoTaskV1())
cohandling_reported = event(COHANDLING_REPORTED, 1, CoTaskV1())
cohandling_ended = event(COHANDLING_ENDED, 1, CoTaskV1())


class ResponsibilityLinkedV1(Schema):
    """``responsibility.linked`` v1 — an enterprise's standing 包保 link was made or changed
    (XN 固定包保责任区域; XM 挂钩联系; SX 专人包保), before any demand: by the segment rules
    (``rule:<segment>``), an office's explicit assignment (``explicit``) or a transfer;
    ``none`` (department null) when nothing owns it any more. ``version`` counts the
    enterprise's links from 1: the highest wins, in whatever order they arrive."""

    credit_code = fields.String(required=True)
    department_id = fields.String(required=True, allow_none=True)
    department_name = fields.String(required=True, allow_none=True)
    staff_id = fields.String(required=True, allow_none=True)
    staff_name = fields.String(required=True, allow_none=True)
    basis = fields.String(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    since = fields.AwareDateTime(required=True, format="iso")
    previous = fields.Dict(
        allow_none=True,
        metadata={"description": "{department_id, staff_id, basis} of the link it replaces"},
    )
    actor = fields.String(required=True)
    reason = fields.String(required=True)


RESPONSIBILITY_LINKED = "responsibility.linked"
responsibility_linked = event(RESPONSIBILITY_LINKED, 1, ResponsibilityLinkedV1())
