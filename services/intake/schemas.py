"""Intake's request/response schemas (the OpenAPI document is generated from them)."""

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from services.intake.domain import credit_code_error
from shared.contracts.intake import CATEGORIES, SOURCES
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


class DemandListArgs(Strict):
    status = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DemandList(Schema):
    items = fields.List(fields.Nested(DemandOut))
