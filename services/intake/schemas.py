"""Intake's request/response schemas (the OpenAPI document is generated from them)."""

from datetime import UTC, datetime, timedelta

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from services.intake.domain import GROWTH_TIERS
from shared.contracts.catalogue import item_error
from shared.contracts.intake import CATEGORIES, COMPLEXITIES, SOURCES, STATUSES
from shared.creditcodes import credit_code_error
from shared.events import UNIT_CODE_RE

# a unit of the tree: a division, a township, a park, a station or a work station
UNIT = validate.Regexp(UNIT_CODE_RE, error="not a unit code")

# Times a query may name: a year from 1900 to 2200 (beyond that, time arithmetic and the
# databases' types overflow; no record of ours is there).
SANE_TIME = validate.Range(
    min=datetime(1900, 1, 1, tzinfo=UTC),
    max=datetime(2200, 1, 1, tzinfo=UTC),
    error="must be a time between 1900 and 2200",
)

# A demand collected offline (at the window, a forum, a visit, by phone) is often entered
# later: when it was received may lie up to this far back; a little ahead is clock skew.
RECEIPT_MAX_AGE = timedelta(days=30)
RECEIPT_SKEW = timedelta(minutes=5)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class EnterpriseIn(Strict):
    """A registered enterprise by its credit code, or a new one inline (code and name)."""

    credit_code = fields.String(required=True, metadata={"example": "91630102MA7522T5X6"})
    name = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "required when the enterprise is not registered yet"},
    )

    @validates("credit_code")
    def _credit_code(self, value: str, **_: object) -> None:
        err = credit_code_error(value)
        if err:
            raise ValidationError(f"not a valid unified social credit code: {err}")


class ContactIn(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(validate=validate.Regexp(r"^[0-9+\-() .]{5,40}$"))
    email = fields.Email(validate=validate.Length(max=200))


class LocationIn(Strict):
    address = fields.String(validate=validate.Length(min=1, max=300))
    address_id = fields.String(validate=validate.Length(min=1, max=100))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    long = fields.Float(validate=validate.Range(min=-180, max=180))

    @validates_schema
    def _both(self, data: dict[str, object], **_: object) -> None:
        if ("lat" in data) != ("long" in data):
            raise ValidationError({"lat": ["lat and long go together"]})


class DemandIn(Strict):
    enterprise = fields.Nested(EnterpriseIn, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    jurisdiction = fields.String(
        validate=UNIT,
        metadata={"description": "defaults to the API key's jurisdiction"},
    )
    contact = fields.Nested(ContactIn)
    location = fields.Nested(LocationIn)
    media_url = fields.Url(require_tld=False, validate=validate.Length(max=500))
    ordered_agency = fields.String(
        validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,40}$", error="an agency id"),
        metadata={"description": "企业点单: the agency the enterprise names (checked by dispatch)"},
    )
    attachments = fields.List(
        fields.Url(require_tld=False, validate=validate.Length(max=500)),
        validate=validate.Length(max=10),
        metadata={"description": "links to documents (up to 10)"},
    )
    consent_to_share = fields.Boolean(load_default=False)
    service_item = fields.String(
        metadata={"description": "a code of GET /services within the category"}
    )
    complexity = fields.String(
        load_default="general",
        validate=validate.OneOf(COMPLEXITIES),
        metadata={"description": "simple: same working day; general: 5; complex: 20 (defaults)"},
    )

    received_at = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": "when the enterprise raised it, if earlier than now (collected "
            "offline, entered later): at most 30 days back; every time limit counts from it"
        },
    )

    @validates("received_at")
    def _receipt(self, value: datetime, **_: object) -> None:
        now = datetime.now(UTC)
        if value > now + RECEIPT_SKEW:
            raise ValidationError("must not be in the future")
        if value < now - RECEIPT_MAX_AGE:
            raise ValidationError(
                "must be within the last 30 days (older demands are entered as new ones)"
            )

    @validates_schema
    def _service_item(self, data: dict[str, object], **_: object) -> None:
        item = data.get("service_item")
        if isinstance(item, str) and isinstance(data.get("category"), str):
            err = item_error(str(data["category"]), item)
            if err:
                raise ValidationError({"service_item": [err]})


class DemandOut(Schema):
    code = fields.String()
    jurisdiction = fields.String()
    enterprise = fields.Dict()
    category = fields.String()
    service_item = fields.String(allow_none=True)
    contact = fields.Dict(allow_none=True)
    location = fields.Dict(allow_none=True)
    media_url = fields.String(allow_none=True)
    attachments = fields.List(fields.String())
    ordered_agency = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    source = fields.String()
    consent_to_share = fields.Boolean()
    status = fields.String()
    owner = fields.Dict(allow_none=True)
    accepted_at = fields.DateTime()
    received_at = fields.DateTime(
        metadata={"description": "when the enterprise raised it; time limits count from it"}
    )
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
    respond_by = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "the first response (the owner screens or moves the demand) is due "
            "by: working hours from receipt (null for demands from before the limit existed)"
        },
    )
    responded_at = fields.DateTime(allow_none=True)
    escalated_at = fields.DateTime(
        allow_none=True, metadata={"description": "escalated to the responsible leader"}
    )
    escalated_to = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    satisfaction = fields.Dict(allow_none=True)


class DemandListArgs(Strict):
    status = fields.String(validate=validate.OneOf(STATUSES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    source = fields.String(validate=validate.OneOf(SOURCES))
    service_item = fields.String()
    jurisdiction = fields.String(validate=UNIT, metadata={"description": "a subtree root"})
    enterprise = fields.String(metadata={"description": "credit code"})
    accepted_from = fields.AwareDateTime(validate=SANE_TIME)
    accepted_to = fields.AwareDateTime(validate=SANE_TIME)
    closed_from = fields.AwareDateTime(validate=SANE_TIME)
    closed_to = fields.AwareDateTime(validate=SANE_TIME)
    overdue = fields.Boolean(metadata={"description": "open and past the promised deadline"})
    open = fields.Boolean(
        metadata={"description": "true: not closed or rejected; false: closed or rejected"}
    )
    owner = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "the owner's id (a staff member or a department); repeat it "
            "for any of several (a person's own and their department's: a workbench)"
        },
    )
    order = fields.String(
        load_default="newest",
        validate=validate.OneOf(("newest", "deadline")),
        metadata={
            "description": "newest: newest first (every demand); deadline: the soonest "
            "promised deadline first (only the demands that have one) — a workbench's order"
        },
    )
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "xlsx")),
        metadata={"description": "xlsx: the demand ledger (需求台账) of every demand selected"},
    )

    @validates_schema
    def _ranges(self, data: dict[str, object], **_: object) -> None:
        for lo, hi in (("accepted_from", "accepted_to"), ("closed_from", "closed_to")):
            a, b = data.get(lo), data.get(hi)
            if a is not None and b is not None and a > b:  # type: ignore[operator]
                raise ValidationError({hi: [f"must not be before {lo}"]})


class DemandList(Schema):
    items = fields.List(fields.Nested(DemandOut))
    next_cursor = fields.String(allow_none=True)


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


class ConsentIn(Strict):
    consent_to_share = fields.Boolean(
        required=True,
        metadata={"description": "share the content with the agency serving the demand"},
    )


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
    response_hours = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=72),
        metadata={
            "description": "first-response limit in working hours (09:00–18:00 of working "
            "days); the default (4) when not sent"
        },
    )
    closures = fields.List(fields.Date(), load_default=list)


class TimeLimitsOut(Schema):
    jurisdiction = fields.String()
    source = fields.String(
        metadata={"description": "the jurisdiction whose rules apply, or default"}
    )
    simple = fields.Integer()
    general = fields.Integer()
    complex = fields.Integer()
    response_hours = fields.Integer(metadata={"description": "first-response limit, working hours"})
    closures = fields.List(fields.Date())


class EnterpriseProfileIn(Strict):
    """An enterprise of the innovation-entity registry (创新主体信息库); amounts in CNY."""

    credit_code = fields.String(required=True, metadata={"example": "91630102MA7522T5X6"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    jurisdiction = fields.String(
        validate=UNIT,
        metadata={"description": "defaults to the API key's jurisdiction"},
    )
    technology_field = fields.String(validate=validate.Length(max=100), allow_none=True)
    revenue = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**15), allow_none=True
    )
    rd_spend = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**15), allow_none=True
    )
    has_rd_activity = fields.Boolean(allow_none=True)
    has_rd_institution = fields.Boolean(allow_none=True)
    invention_patents = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**6), allow_none=True
    )
    utility_patents = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**6), allow_none=True
    )
    software_copyrights = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=10**6), allow_none=True
    )
    growth_tier = fields.String(validate=validate.OneOf(GROWTH_TIERS), allow_none=True)
    is_key = fields.Boolean(load_default=False)

    @validates("credit_code")
    def _credit_code(self, value: str, **_: object) -> None:
        err = credit_code_error(value)
        if err:
            raise ValidationError(f"not a valid unified social credit code: {err}")


class EnterprisePatchIn(EnterpriseProfileIn):
    """Only the fields sent change (the code and jurisdiction are the identity)."""

    class Meta:
        unknown = RAISE
        exclude = ("credit_code", "jurisdiction")

    is_key = fields.Boolean()


class EnterpriseOut(Schema):
    credit_code = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    technology_field = fields.String(allow_none=True)
    revenue = fields.Integer(allow_none=True)
    rd_spend = fields.Integer(allow_none=True)
    has_rd_activity = fields.Boolean(allow_none=True)
    has_rd_institution = fields.Boolean(allow_none=True)
    invention_patents = fields.Integer(allow_none=True)
    utility_patents = fields.Integer(allow_none=True)
    software_copyrights = fields.Integer(allow_none=True)
    growth_tier = fields.String(allow_none=True)
    is_key = fields.Boolean()
    needs_named_person = fields.Boolean(metadata={"description": "SX: ≥100M CNY, no R&D activity"})
    needs_one_plan = fields.Boolean(metadata={"description": "SX: ≥500M CNY, no R&D institution"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class EnterpriseListArgs(Strict):
    jurisdiction = fields.String(validate=UNIT)
    growth_tier = fields.String(validate=validate.OneOf(GROWTH_TIERS))
    technology_field = fields.String()
    is_key = fields.Boolean()
    needs_named_person = fields.Boolean()
    needs_one_plan = fields.Boolean()
    name = fields.String(metadata={"description": "part of the name"})
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class EnterprisePage(Schema):
    items = fields.List(fields.Nested(EnterpriseOut))
    next_cursor = fields.String(allow_none=True)


class ImportRowError(Schema):
    row = fields.Integer()
    credit_code = fields.String(allow_none=True)
    errors = fields.Dict()


class ImportReport(Schema):
    rows = fields.Integer()
    registered = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.List(fields.Nested(ImportRowError))


class ImportedDemand(Schema):
    row = fields.Integer()
    code = fields.String()
    outcome = fields.String(
        metadata={"description": "accepted now, or unchanged: imported before (its demand)"}
    )


class DemandImportReport(Schema):
    rows = fields.Integer()
    accepted = fields.Integer()
    unchanged = fields.Integer()
    demands = fields.List(fields.Nested(ImportedDemand))
    rejected = fields.List(fields.Nested(ImportRowError))


class ServiceItemOut(Schema):
    code = fields.String()
    name = fields.String()
    agency_category = fields.String(
        allow_none=True, metadata={"description": "finance, rd, patent, general; null: no agency"}
    )
    standard_price = fields.Integer(allow_none=True, metadata={"description": "CNY"})


class CategoryOut(Schema):
    code = fields.String()
    name = fields.String()
    items = fields.List(fields.Nested(ServiceItemOut))


class Catalogue(Schema):
    categories = fields.List(fields.Nested(CategoryOut))


# -- callbacks to the system that filed a demand (services.intake.callbacks) ---------------
DELIVERY_STATUSES = ("pending", "delivered", "dead")


class CallbackIn(Strict):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "https URL that receives every status change of the demands "
            "this key files (plain http only to a loopback address, in tests)",
            "example": "https://district.example.gov.cn/onestop/callbacks",
        },
    )


class CallbackOut(Schema):
    url = fields.String()
    secret = fields.String(
        metadata={
            "description": "the signing secret (whsec_…), answered once, when registering: "
            "keep it to verify webhook-signature"
        }
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DeliveryListArgs(Strict):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    demand_code = fields.String(validate=validate.Length(max=40))
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DeliveryOut(Schema):
    id = fields.Integer()
    demand_code = fields.String()
    event_id = fields.String(metadata={"description": "the webhook-id header"})
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending, delivered or dead (dead-lettered)"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)
    last_status = fields.Integer(
        allow_none=True, metadata={"description": "receiver's HTTP status"}
    )
    last_error = fields.String(allow_none=True)
    resend_of = fields.Integer(allow_none=True)
    event = fields.Dict(metadata={"description": "the body delivered: the event's envelope"})


class DeliveryList(Schema):
    items = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.String(allow_none=True)


class BoardArgs(Strict):
    date = fields.Date(
        metadata={"description": "YYYY-MM-DD: the day (China time); today when not sent"}
    )
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "xlsx")),
        metadata={"description": "xlsx: a summary sheet and a sheet per section (Chinese)"},
    )


class BoardItem(Schema):
    code = fields.String()
    jurisdiction = fields.String()
    enterprise = fields.Dict()
    category = fields.String()
    status = fields.String()
    owner = fields.String(allow_none=True)
    received_at = fields.DateTime()
    expected_at = fields.DateTime(allow_none=True)
    respond_by = fields.DateTime(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    response_late = fields.Boolean(
        metadata={"description": "the first response came (or is still missing) after its limit"}
    )
    escalated_at = fields.DateTime(allow_none=True)
    escalated_to = fields.String(allow_none=True)


class BoardSections(Schema):
    new = fields.List(
        fields.Nested(BoardItem), metadata={"description": "新受理: accepted that day"}
    )
    due_today = fields.List(
        fields.Nested(BoardItem), metadata={"description": "今日到期: open, due later that day"}
    )
    overdue = fields.List(
        fields.Nested(BoardItem), metadata={"description": "已超期: open, past the deadline"}
    )
    escalated = fields.List(
        fields.Nested(BoardItem), metadata={"description": "已督办: open, escalated to a leader"}
    )
    awaiting_response = fields.List(
        fields.Nested(BoardItem),
        metadata={"description": "待响应: open, no first response yet (late or not)"},
    )


class BoardOut(Schema):
    jurisdiction = fields.String()
    date = fields.Date()
    as_of = fields.DateTime(metadata={"description": "the end of the day, or now for today"})
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "per section"}
    )
    sections = fields.Nested(BoardSections)
