"""Visits' request/response schemas (the OpenAPI document is generated from them)."""

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.contracts.catalogue import item_error
from shared.contracts.intake import CATEGORIES, COMPLEXITIES, DEMAND_CODE_RE
from shared.contracts.visits import KINDS
from shared.events import JURISDICTION_RE, UNIT_CODE_RE


class LinkArgs(Schema):
    class Meta:
        unknown = RAISE

    enterprise = fields.String(metadata={"description": "unified social credit code"})
    unit_id = fields.String()
    standing = fields.Boolean(metadata={"description": "only the standing 包保 links"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class LinkOut(Schema):
    enterprise_credit_code = fields.String()
    unit_type = fields.String()
    unit_id = fields.String()
    unit_name = fields.String()
    jurisdiction = fields.String()
    since = fields.DateTime()
    last_demand_code = fields.String(allow_none=True)
    demand_count = fields.Integer()
    standing = fields.Boolean(metadata={"description": "the enterprise's standing 包保 link"})
    basis = fields.String(allow_none=True)


class LinkList(Schema):
    items = fields.List(fields.Nested(LinkOut))


# --- visits ---------------------------------------------------------------------------------
ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", error="1-40 letters, digits, - or _")
CREDIT = validate.Regexp(r"^[0-9A-HJ-NPQRTUWXY]{18}$", error="an 18-character credit code")
# a team's linked city is a GB/T 2260 division; everything else may sit in any unit
CITY = validate.Regexp(JURISDICTION_RE, error="not a GB/T 2260 division code")
UNIT = validate.Regexp(UNIT_CODE_RE, error="not a unit code")
TEXT = validate.Length(max=4000)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class ContactIn(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(validate=validate.Regexp(r"^[0-9+\-() .]{5,40}$"))
    email = fields.Email(validate=validate.Length(max=200))


class RaisedDemandIn(Strict):
    credit_code = fields.String(required=True, validate=CREDIT)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    service_item = fields.String(validate=validate.Length(max=40))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    consent_to_share = fields.Boolean(load_default=False)
    contact = fields.Nested(ContactIn)
    complexity = fields.String(validate=validate.OneOf(COMPLEXITIES))

    @validates_schema
    def _item(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("service_item"):
            error = item_error(data["category"], data["service_item"])
            if error:
                raise ValidationError({"service_item": [error]})


class VisitIn(Strict):
    staff_id = fields.String(validate=ID)
    department_id = fields.String(validate=ID)
    team_id = fields.String(validate=ID)
    enterprises = fields.List(
        fields.String(validate=CREDIT), required=True, validate=validate.Length(min=1, max=20)
    )
    visited_on = fields.Date(required=True)
    started_at = fields.AwareDateTime(format="iso")
    ended_at = fields.AwareDateTime(format="iso")
    duration_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=24 * 60))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    participants = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=30)
    )
    findings = fields.String(validate=TEXT)
    outcomes = fields.String(validate=TEXT)
    demands_raised = fields.List(fields.Nested(RaisedDemandIn), validate=validate.Length(max=20))
    follow_up_of = fields.List(
        fields.String(validate=validate.Regexp(DEMAND_CODE_RE, error="a unified code")),
        validate=validate.Length(max=20),
    )


class RevisionIn(VisitIn):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class VisitOut(Schema):
    visit_id = fields.String()
    version = fields.Integer()
    jurisdiction = fields.String()
    staff_id = fields.String(allow_none=True)
    staff_name = fields.String(allow_none=True)
    department_id = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    enterprises = fields.List(fields.Dict())
    visited_on = fields.String()
    started_at = fields.String(allow_none=True)
    ended_at = fields.String(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    kind = fields.String()
    participants = fields.List(fields.String())
    findings = fields.String()
    outcomes = fields.String()
    demands_raised = fields.List(fields.Dict())
    follow_up_of = fields.List(fields.String())
    demands = fields.List(fields.Dict(), metadata={"description": "linked demand codes"})
    logged_by = fields.String()
    at = fields.String()
    reason = fields.String(allow_none=True)


class VisitArgs(Strict):
    staff_id = fields.String()
    department_id = fields.String()
    team_id = fields.String()
    enterprise = fields.String()
    jurisdiction = fields.String(validate=UNIT)
    kind = fields.String(validate=validate.OneOf(KINDS))
    period = fields.String(metadata={"description": "YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-Qn"})
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class VisitPage(Schema):
    items = fields.List(fields.Nested(VisitOut))
    next_cursor = fields.String(allow_none=True)


class VersionList(Schema):
    items = fields.List(fields.Nested(VisitOut))


class PeriodArgs(Strict):
    period = fields.String(
        required=True, metadata={"description": "YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-Qn"}
    )
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx")))


class LedgerArgs(PeriodArgs):
    unit = fields.String(required=True, metadata={"description": "a staff or department id"})


class TeamReportArgs(PeriodArgs):
    team = fields.String(required=True)


class ReportOut(Schema):
    unit = fields.Dict()
    team = fields.Dict()
    period = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    visits = fields.List(fields.Nested(VisitOut))
    totals = fields.Dict()
    key_enterprises = fields.Dict()


class ComplianceArgs(Strict):
    period = fields.String(
        required=True, metadata={"description": "YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-Qn"}
    )
    jurisdiction = fields.String(validate=UNIT)


class ComplianceOut(Schema):
    period = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    jurisdiction = fields.String()
    items = fields.List(
        fields.Dict(),
        metadata={
            "description": "rule, source, rule_version, subject_type, subject_id, subject_name, "
            "jurisdiction, required, done, shortfall, status (met, short, open)"
        },
    )
    key_enterprise_coverage = fields.List(fields.Dict())


class RulesIn(Strict):
    effective_from = fields.Date(required=True)
    department_weekly = fields.Integer(strict=True)
    team_city_monthly = fields.Integer(strict=True)
    team_key_quarterly = fields.Integer(strict=True)
    team_min_key_enterprises = fields.Integer(strict=True)
    leader_quarterly = fields.Integer(strict=True)
    station_duty_days_per_five = fields.Integer(strict=True)


class RulesOut(Schema):
    jurisdiction = fields.String()
    source = fields.String()
    version = fields.Integer(metadata={"description": "0 = the seeds' defaults"})
    rules = fields.Dict()
    rule_kinds = fields.Dict()
    versions = fields.List(fields.Dict())


class TeamIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    jurisdiction = fields.String(required=True, validate=UNIT)
    linked_city = fields.String(required=True, validate=CITY)
    key_enterprises = fields.List(
        fields.String(validate=CREDIT), required=True, validate=validate.Length(max=500)
    )


class TeamOut(Schema):
    id = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    linked_city = fields.String()
    key_enterprises = fields.List(fields.String())
    updated_at = fields.DateTime()


class TeamList(Schema):
    items = fields.List(fields.Nested(TeamOut))


class StationIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    jurisdiction = fields.String(required=True, validate=UNIT)
    staff_ids = fields.List(
        fields.String(validate=ID), required=True, validate=validate.Length(max=100)
    )


class StationOut(Schema):
    id = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    staff_ids = fields.List(fields.String())
    updated_at = fields.DateTime()


class DutyIn(Strict):
    staff_id = fields.String(required=True, validate=ID)
    days = fields.List(fields.Date(), required=True, validate=validate.Length(min=1, max=62))


class DutyOut(Schema):
    station_id = fields.String()
    staff_id = fields.String()
    recorded = fields.Integer()


class PlanIn(Strict):
    staff_id = fields.String(validate=ID)
    department_id = fields.String(validate=ID)
    team_id = fields.String(validate=ID)
    enterprises = fields.List(
        fields.String(validate=CREDIT), required=True, validate=validate.Length(min=1, max=20)
    )
    planned_on = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    note = fields.String(validate=validate.Length(max=2000))


class PlanOut(Schema):
    id = fields.String()
    jurisdiction = fields.String()
    staff_id = fields.String(allow_none=True)
    department_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    enterprises = fields.List(fields.String())
    planned_on = fields.Date()
    kind = fields.String()
    note = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    visit_id = fields.String(allow_none=True)
    created_by = fields.String()
    updated_at = fields.DateTime()


class PlanArgs(Strict):
    status = fields.String(validate=validate.OneOf(("planned", "done", "missed", "cancelled")))
    staff_id = fields.String()
    department_id = fields.String()
    team_id = fields.String()
    period = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class PlanList(Schema):
    items = fields.List(fields.Nested(PlanOut))


class PlanDoneIn(Strict):
    visit_id = fields.String(required=True, validate=validate.Length(equal=36))


class PlanReasonIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
