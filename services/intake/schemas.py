"""Intake's request/response schemas (the OpenAPI document is generated from them)."""

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from services.intake.domain import credit_code_error
from shared.contracts.intake import CATEGORIES, COMPLEXITIES, SOURCES, STATUSES
from shared.events import JURISDICTION_RE


class Strict(Schema):
    class Meta:
        unknown = RAISE


class EnterpriseIn(Strict):
    credit_code = fields.String(required=True, metadata={"example": "91630100MA7522T5X1"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @validates("credit_code")
    def _credit_code(self, value: str, **_: object) -> None:
        err = credit_code_error(value)
        if err:
            raise ValidationError(f"not a valid unified social credit code: {err}")


class ContactIn(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(validate=validate.Regexp(r"^[0-9+\- ]{5,40}$"))


class DemandIn(Strict):
    enterprise = fields.Nested(EnterpriseIn, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    jurisdiction = fields.String(
        validate=validate.Regexp(JURISDICTION_RE, error="must be a 6-digit GB/T 2260 code"),
        metadata={"description": "defaults to the API key's jurisdiction"},
    )
    contact = fields.Nested(ContactIn)
    consent_to_share = fields.Boolean(load_default=False)
    complexity = fields.String(
        load_default="general",
        validate=validate.OneOf(COMPLEXITIES),
        metadata={"description": "simple: same working day; general: 5; complex: 20 (defaults)"},
    )


class DemandOut(Schema):
    code = fields.String()
    jurisdiction = fields.String()
    enterprise = fields.Dict()
    category = fields.String()
    title = fields.String()
    description = fields.String()
    source = fields.String()
    consent_to_share = fields.Boolean()
    status = fields.String()
    owner = fields.Dict(allow_none=True)
    accepted_at = fields.DateTime()
    correlation_id = fields.String()
    complexity = fields.String()
    urgency = fields.String(allow_none=True)
    feasibility = fields.String(allow_none=True)
    expected_datetime = fields.DateTime(
        attribute="expected_at", metadata={"description": "the promised time limit"}
    )
    deadline_provisional = fields.Boolean(
        metadata={"description": "true while the holiday calendar of that year is unpublished"}
    )
    service_notice = fields.String()
    closed_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    satisfaction = fields.Dict(allow_none=True)


class DemandListArgs(Strict):
    status = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DemandList(Schema):
    items = fields.List(fields.Nested(DemandOut))


class TransitionIn(Strict):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    resolution = fields.String(
        validate=validate.OneOf(("solved", "unsolvable")),
        metadata={"description": "required when closing; unsolvable needs an explanation (note)"},
    )


class ScreeningIn(Strict):
    complexity = fields.String(validate=validate.OneOf(COMPLEXITIES))
    urgency = fields.String(validate=validate.OneOf(("low", "normal", "high", "urgent")))
    feasibility = fields.String(validate=validate.OneOf(("low", "medium", "high")))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class RevisitIn(Strict):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class UpdateOut(Schema):
    kind = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    note = fields.String()
    details = fields.Dict()
    actor = fields.String()
    at = fields.DateTime()


class UpdateList(Schema):
    demand_code = fields.String()
    items = fields.List(fields.Nested(UpdateOut))


class TimeLimitsIn(Strict):
    simple = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=60))
    general = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=120))
    complex = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=250))
    closures = fields.List(fields.Date(), load_default=list)


class TimeLimitsOut(Schema):
    jurisdiction = fields.String()
    source = fields.String(
        metadata={"description": "the jurisdiction whose rules apply, or default"}
    )
    simple = fields.Integer()
    general = fields.Integer()
    complex = fields.Integer()
    closures = fields.List(fields.Date())
