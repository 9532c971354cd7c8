"""Dispatch's request/response schemas (the OpenAPI document is generated from them)."""

from marshmallow import RAISE, Schema, fields, validate

from services.dispatch import cotasks
from services.dispatch.alliance import CATEGORIES, EXIT_GROUNDS, OUTCOMES
from services.dispatch.broker import AGENCY_ID_RE
from shared.contracts.dispatch import ORDER_STATUSES
from shared.contracts.intake import DEMAND_CODE_LENGTH
from shared.events import UNIT_CODE_RE

# an alliance belongs to a unit at any level ("city" by name); so does a department
CITY = validate.Regexp(UNIT_CODE_RE, error="not a unit code")
UNIT = validate.Regexp(UNIT_CODE_RE, error="not a unit code")
DEMAND_CODE = validate.Length(max=DEMAND_CODE_LENGTH)
ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", error="1-40 letters, digits, - or _")
NOTE = validate.Length(max=2000)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class AssignmentArgs(Strict):
    demand_code = fields.String(validate=DEMAND_CODE)
    kind = fields.String(validate=validate.OneOf(("owner", "agency")))
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    agency_id = fields.String(validate=validate.Length(max=40))
    overdue = fields.Boolean()
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
    status = fields.String()
    due_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    city = fields.String(allow_none=True)
    month = fields.String(allow_none=True)
    service_item = fields.String(allow_none=True)
    value = fields.Integer(allow_none=True)
    decision_id = fields.Integer(allow_none=True)
    replaces = fields.String(allow_none=True)
    consent_to_share = fields.Boolean()
    bond = fields.Integer(allow_none=True)
    bond_reason = fields.String(allow_none=True)
    goal_reached = fields.Boolean(allow_none=True)
    funds_received_on = fields.Date(allow_none=True)
    settlement_due = fields.Date(allow_none=True)


class AssignmentList(Schema):
    items = fields.List(fields.Nested(AssignmentOut))


class OrderEventOut(Schema):
    action = fields.String()
    from_status = fields.String()
    to_status = fields.String()
    note = fields.String()
    actor = fields.String()
    at = fields.DateTime()


class ComplaintOut(Schema):
    id = fields.Integer()
    assignment_id = fields.String()
    source = fields.String()
    text = fields.String()
    actor = fields.String()
    at = fields.DateTime()


class AssignmentDetail(AssignmentOut):
    details = fields.Dict(
        allow_none=True,
        metadata={
            "description": "title, description, contact: the agency handling the demand reads "
            "them; after it stops, only with the enterprise's consent"
        },
    )
    decision = fields.Dict(
        allow_none=True,
        metadata={
            "description": "outcome, chosen, reason, skipped [{agency_id, why}], rules_version"
        },
    )
    history = fields.List(fields.Nested(OrderEventOut))
    complaints = fields.List(fields.Nested(ComplaintOut))
    reassigned_to = fields.String(allow_none=True)


class DecisionArgs(Strict):
    demand_code = fields.String(validate=DEMAND_CODE)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DecisionOut(Schema):
    id = fields.Integer()
    demand_code = fields.String()
    jurisdiction = fields.String()
    city = fields.String()
    month = fields.String()
    service_item = fields.String()
    agency_category = fields.String()
    outcome = fields.String(metadata={"enum": list(OUTCOMES)})
    agency_id = fields.String(allow_none=True)
    explanation = fields.Dict()
    decided_at = fields.DateTime()


class DecisionList(Schema):
    items = fields.List(fields.Nested(DecisionOut))


class LimitArgs(Strict):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class BreachOut(Schema):
    assignment_id = fields.String()
    level = fields.String()
    demand_code = fields.String()
    jurisdiction = fields.String()
    due_at = fields.DateTime()
    escalated_to = fields.String(allow_none=True)
    at = fields.DateTime()


class BreachList(Schema):
    items = fields.List(fields.Nested(BreachOut))


class DepartmentIn(Strict):
    jurisdiction = fields.String(required=True, validate=UNIT)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    segments = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        metadata={"description": "demand categories or enterprise growth tiers it is linked to"},
    )
    is_default = fields.Boolean(load_default=False)
    leader_staff_id = fields.String(allow_none=True, validate=ID)
    phone = fields.String(
        allow_none=True, validate=validate.Length(max=40), metadata={"example": "0971-6123456"}
    )
    service_hours = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"example": "工作日 9:00–12:00，14:30–18:00"},
    )


class DepartmentOut(Schema):
    id = fields.String()
    jurisdiction = fields.String()
    name = fields.String()
    segments = fields.List(fields.String())
    is_default = fields.Boolean()
    leader_staff_id = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    service_hours = fields.String(allow_none=True)


class DepartmentList(Schema):
    items = fields.List(fields.Nested(DepartmentOut))


class StaffIn(Strict):
    department_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    title = fields.String(allow_none=True, validate=validate.Length(max=100))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))


class StaffOut(Schema):
    id = fields.String()
    department_id = fields.String()
    name = fields.String()
    title = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    jurisdiction = fields.String()


class StaffList(Schema):
    items = fields.List(fields.Nested(StaffOut))


class NamedOwnerIn(Strict):
    staff_id = fields.String(required=True, allow_none=True, validate=ID)


class BlacklistIn(Strict):
    city = fields.String(required=True, validate=CITY)
    reason = fields.String(required=True, validate=validate.OneOf(("abandoned", "refused_payment")))
    assignment_id = fields.String(validate=validate.Length(max=36))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class BlacklistOut(Schema):
    city = fields.String()
    credit_code = fields.String()
    reason = fields.String()
    assignment_id = fields.String(allow_none=True)
    note = fields.String()
    actor = fields.String()
    at = fields.DateTime()


class EnterpriseOut(Schema):
    credit_code = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    growth_tier = fields.String(allow_none=True)
    is_key = fields.Boolean()
    needs_named_person = fields.Boolean()
    needs_one_plan = fields.Boolean()
    named_staff_id = fields.String(allow_none=True)
    blacklisted = fields.List(fields.Nested(BlacklistOut))


class AdmissionIn(Strict):
    id = fields.String(
        required=True,
        validate=validate.Regexp(AGENCY_ID_RE, error="lower-case letters, digits and -, 2-39"),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    city = fields.String(required=True, validate=CITY)
    rank_basis = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "last year's in-city high-tech business volume (rank order)"},
    )
    engagements_two_years = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "in-city high-tech engagements in the last two years (>= 5)"},
    )


class AgencyArgs(Strict):
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    status = fields.String(validate=validate.OneOf(("active", "paused", "exited")))


class AgencyOut(Schema):
    id = fields.String()
    name = fields.String()
    category = fields.String()
    jurisdiction = fields.String()
    rank_basis = fields.Integer()
    status = fields.String()
    engagements_two_years = fields.Integer(allow_none=True)
    paused_until = fields.Date(allow_none=True)
    status_reason = fields.String(allow_none=True)
    admitted_at = fields.DateTime(allow_none=True)
    broker_user = fields.String(allow_none=True)


class BrokerOut(Schema):
    queue = fields.String()
    username = fields.String(allow_none=True)
    password = fields.String(allow_none=True, metadata={"description": "shown once"})
    url = fields.String(allow_none=True)
    note = fields.String()


class AdmissionOut(AgencyOut):
    api_key = fields.String(metadata={"description": "shown once; stored only hashed"})
    broker = fields.Nested(BrokerOut)


class AgencyList(Schema):
    items = fields.List(fields.Nested(AgencyOut))


class OfferOut(Schema):
    id = fields.String()
    name = fields.String()
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    paused = fields.Boolean(
        metadata={"description": "dispatch to it is paused; an enterprise's order still reaches it"}
    )
    paused_until = fields.Date(allow_none=True)


class OfferList(Schema):
    city = fields.String(
        allow_none=True,
        metadata={"description": "the alliance that serves the unit asked about (None: none)"},
    )
    items = fields.List(fields.Nested(OfferOut))


class RankBasisIn(Strict):
    rank_basis = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={"description": "last year's in-city high-tech business volume"},
    )


class PauseIn(Strict):
    until = fields.Date(required=True, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=400))


class ResumeIn(Strict):
    reason = fields.String(validate=validate.Length(max=400))


class ExitIn(Strict):
    ground = fields.String(required=True, validate=validate.OneOf(tuple(EXIT_GROUNDS)))
    note = fields.String(required=True, validate=validate.Length(min=1, max=400))


class RulesIn(Strict):
    effective_from = fields.Date(required=True)
    item_cap_percent = fields.Integer(strict=True)
    value_cap_percent = fields.Integer(strict=True)
    min_monthly_volume = fields.Integer(strict=True)
    admission_min_engagements = fields.Integer(strict=True)
    settlement_days = fields.Integer(strict=True)
    bond_fraction_denominator = fields.Integer(strict=True)
    bond_max = fields.Integer(strict=True)
    bond_after_months = fields.Integer(strict=True)
    reassignments_to_exit = fields.Integer(strict=True)
    warn_hours = fields.Integer(strict=True)


class RulesOut(Schema):
    city = fields.String()
    version = fields.Integer(metadata={"description": "0 = the seed's defaults"})
    rules = fields.Dict()
    versions = fields.List(fields.Dict())


class MenuItemIn(Strict):
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    policy_coverage = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=0))
    expected_settlement_months = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=120)
    )


class MenuItemOut(Schema):
    city = fields.String()
    service_item = fields.String()
    price = fields.Integer()
    policy_coverage = fields.Integer(allow_none=True)
    expected_settlement_months = fields.Integer(allow_none=True)
    bond = fields.Integer(metadata={"description": "performance bond (第二十条)"})
    bond_reason = fields.String(allow_none=True)
    updated_by = fields.String()
    updated_at = fields.DateTime()


class MenuList(Schema):
    items = fields.List(fields.Nested(MenuItemOut))


class MonthCloseIn(Strict):
    month = fields.String(
        required=True,
        validate=validate.Regexp(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$", error="YYYY-MM"),
    )


class MonthCloseOut(Schema):
    city = fields.String()
    month = fields.String()
    pauses = fields.List(fields.Dict())
    kept_active = fields.List(fields.Dict())


class ProgressIn(Strict):
    stage = fields.String(required=True, validate=validate.OneOf(("started", "feedback")))
    note = fields.String(load_default="", validate=NOTE)


class ProgressOut(Schema):
    assignment_id = fields.String()
    demand_code = fields.String()
    stage = fields.String()
    note = fields.String()
    at = fields.DateTime()


class NoteIn(Strict):
    note = fields.String(load_default="", validate=NOTE)


class RefuseIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CompleteIn(Strict):
    goal_reached = fields.Boolean(required=True)
    funds_received_on = fields.Date(allow_none=True, load_default=None)
    note = fields.String(load_default="", validate=NOTE)


class CoordinationIn(Strict):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(("complied", "justified", "unjustified")),
        metadata={
            "description": "complied: the agency takes the order after all; justified: the "
            "refusal stands and the order moves on; unjustified: exit and the order moves on"
        },
    )
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ComplaintIn(Strict):
    source = fields.String(required=True, validate=validate.OneOf(("enterprise", "owner")))
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- the expert pool and co-handling (``cohandling``) ------------------------------------
class ExpertIn(Strict):
    jurisdiction = fields.String(
        required=True, validate=UNIT, metadata={"description": "the unit whose pool it is in"}
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    fields_ = fields.List(  # ``fields`` would shadow marshmallow's module in the class body
        fields.String(validate=validate.Length(min=1, max=40)),
        data_key="fields",
        attribute="fields",
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "technology fields", "example": ["新材料", "锂电池"]},
    )
    institution = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    availability = fields.String(
        load_default="available", validate=validate.OneOf(cotasks.AVAILABILITY)
    )
    unavailable_until = fields.Date(
        allow_none=True,
        metadata={"description": "the last day away (unavailable only; null: open-ended)"},
    )


class ExpertOut(Schema):
    id = fields.String()
    jurisdiction = fields.String()
    name = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    institution = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    availability = fields.String()
    unavailable_until = fields.Date(allow_none=True)
    available_today = fields.Boolean()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class ExpertArgs(Strict):
    field = fields.String(validate=validate.Length(min=1, max=40))
    available = fields.Boolean(metadata={"description": "available today (or not)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class ExpertList(Schema):
    items = fields.List(fields.Nested(ExpertOut))


class CoHandlerIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(cotasks.KINDS))
    id = fields.String(validate=ID, metadata={"description": "the department's or the expert's id"})
    name = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"description": "an institute's name"}
    )
    contact = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "an institute's contact person and phone"},
    )
    task = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    due_on = fields.Date(required=True, metadata={"description": "due by the end of this day"})


class CoTaskOut(Schema):
    id = fields.String()
    demand_code = fields.String()
    jurisdiction = fields.String()
    lead_assignment_id = fields.String()
    lead_department_id = fields.String()
    category = fields.String()
    kind = fields.String(validate=validate.OneOf(cotasks.KINDS))
    cohandler_id = fields.String()
    cohandler_name = fields.String()
    cohandler_jurisdiction = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    task = fields.String()
    due_on = fields.Date()
    due_at = fields.DateTime()
    status = fields.String(validate=validate.OneOf(cotasks.STATUSES))
    assigned_by = fields.String()
    assigned_at = fields.DateTime()
    outcome = fields.String(allow_none=True)
    feedback = fields.String(allow_none=True)
    reported_by = fields.String(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class CoTaskList(Schema):
    items = fields.List(fields.Nested(CoTaskOut))


class FeedbackIn(Strict):
    outcome = fields.String(required=True, validate=validate.OneOf(cotasks.OUTCOMES))
    feedback = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- standing 包保 links (``standing``) ----------------------------------------------------
class OwnerIn(Strict):
    department_id = fields.String(
        allow_none=True,
        load_default=None,
        validate=ID,
        metadata={"description": "omitted with a staff id: the staff member's department"},
    )
    staff_id = fields.String(allow_none=True, load_default=None, validate=ID)
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class LinkOut(Schema):
    credit_code = fields.String()
    jurisdiction = fields.String()
    enterprise_name = fields.String()
    department_id = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    staff_id = fields.String(allow_none=True)
    staff_name = fields.String(allow_none=True)
    basis = fields.String(metadata={"description": "rule:<segment>, rule:default or explicit"})
    version = fields.Integer()
    since = fields.DateTime()
    by = fields.String()
    reason = fields.String()


class LinkVersion(Schema):
    version = fields.Integer()
    department_id = fields.String(allow_none=True)
    staff_id = fields.String(allow_none=True)
    basis = fields.String()
    since = fields.DateTime()
    until = fields.DateTime(allow_none=True)
    by = fields.String()
    reason = fields.String()


class EnterpriseLinkOut(Schema):
    credit_code = fields.String()
    enterprise_name = fields.String()
    jurisdiction = fields.String()
    link = fields.Nested(LinkOut, allow_none=True)
    history = fields.List(fields.Nested(LinkVersion))


class MapArgs(Strict):
    jurisdiction = fields.String(validate=UNIT)
    department_id = fields.String(validate=ID)
    staff_id = fields.String(validate=ID)
    segment = fields.String(
        validate=validate.Length(min=1, max=150),
        metadata={"description": "key, park:<code>, field:<x>, a growth tier, default, explicit"},
    )
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class MapPage(Schema):
    items = fields.List(fields.Nested(LinkOut))
    next_cursor = fields.String(allow_none=True)


class TransferIn(Strict):
    to_staff_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    open_assignments = fields.Boolean(
        load_default=True,
        metadata={"description": "also move the person's open owner assignments (default)"},
    )


class TransferOut(Schema):
    from_staff_id = fields.String()
    to_staff_id = fields.String()
    enterprises = fields.List(fields.String())
    assignments = fields.List(fields.String(), metadata={"description": "the new assignments"})
    reason = fields.String()
