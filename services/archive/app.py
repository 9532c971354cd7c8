"""Archive HTTP API: trace, search, verify, streaming export, replay."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, stream_with_context
from marshmallow import RAISE, Schema, fields, validate

from services.archive import (
    PRODUCERS,
    build,
    exports,
    metrics,
    renderings,
    replays,
    reports,
    search,
    verification,
)
from shared.config import Settings
from shared.errors import ApiError
from shared.events import UNIT_CODE_RE
from shared.views import OnestopBlueprint, current_principal, download, permit, service
from shared.web import make_app

blp = OnestopBlueprint("archive", __name__, url_prefix="/api/v1", description="Archive (服务档案)")
UNIT = validate.Regexp(UNIT_CODE_RE, error="not a unit code")  # any unit of the tree


class Strict(Schema):
    class Meta:
        unknown = RAISE


class TraceOut(Schema):
    demand_code = fields.String()
    events = fields.List(fields.Dict(), metadata={"description": "envelopes, oldest first"})


class FilterArgs(Strict):
    enterprise = fields.String(metadata={"description": "unified social credit code"})
    staff = fields.String()
    agency = fields.String()
    demand = fields.String()
    type = fields.String(metadata={"description": "event type, e.g. demand.accepted"})
    producer = fields.String(validate=validate.OneOf(PRODUCERS))
    correlation_id = fields.String()
    jurisdiction = fields.String(validate=UNIT)
    from_ = fields.AwareDateTime(data_key="from", format="iso")
    to = fields.AwareDateTime(format="iso")


class SearchArgs(FilterArgs):
    cursor = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ExportArgs(FilterArgs):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(("jsonl", "csv")))


class EventPage(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "envelopes, newest first"})
    next_cursor = fields.String(allow_none=True)


class VerifyArgs(Strict):
    full = fields.Boolean(
        load_default=False,
        metadata={
            "description": "walk the whole chain from its start, re-checking every record and "
            "every checkpoint (by default: from the newest checkpoint, only what is new)"
        },
    )


class CheckpointOut(Schema):
    seq = fields.Integer(metadata={"description": "the last record it covers"})
    length = fields.Integer(metadata={"description": "records from the start through seq"})
    digest = fields.String(
        metadata={
            "description": "SHA-256 chaining it to the checkpoints before it: keep it "
            "outside the platform to anchor the chain"
        }
    )


class VerifyOut(Schema):
    ok = fields.Boolean()
    full = fields.Boolean(metadata={"description": "a full walk from the chain's start"})
    checked = fields.Integer(
        metadata={
            "description": "records from the start found intact (through the checkpoint "
            "a routine verify starts from)"
        }
    )
    walked = fields.Integer(metadata={"description": "records this verify read and checked"})
    first_mismatch = fields.Dict(
        allow_none=True,
        metadata={
            "description": "seq, event_id, reason (a record edited/deleted/reordered, the head, "
            "or a checkpoint altered)"
        },
    )
    checkpoint = fields.Nested(
        CheckpointOut,
        allow_none=True,
        metadata={"description": "the newest checkpoint once the chain is found intact"},
    )
    seconds = fields.Float()
    rate_per_second = fields.Integer(
        allow_none=True, metadata={"description": "records walked per second"}
    )
    verified_at = fields.DateTime()


class ReplayIn(Strict):
    queue = fields.String(
        required=True, metadata={"description": "a consumer queue, e.g. scoring.on_assignment_made"}
    )
    types = fields.List(fields.String(), load_default=list)
    jurisdiction = fields.String(validate=UNIT)
    from_ = fields.AwareDateTime(data_key="from", format="iso")
    to = fields.AwareDateTime(format="iso")


class ReplayOut(Schema):
    queue = fields.String()
    sent = fields.Integer()
    not_routed = fields.Integer()


def _args(args: dict[str, Any]) -> dict[str, Any]:
    if "from_" in args:
        args["from"] = args.pop("from_")
    return args


@blp.get("/trace/<code>")
@permit("archive.trace")
@blp.response(200, TraceOut)
def trace(code: str) -> dict[str, Any]:
    """A demand's whole history: every archived event in order, with its envelope."""
    return {"demand_code": code, "events": search.trace(service().uow(), current_principal(), code)}


@blp.get("/events")
@permit("archive.events")
@blp.arguments(SearchArgs, location="query")
@blp.response(200, EventPage)
def events(args: dict[str, Any]) -> dict[str, Any]:
    """Search by enterprise, staff, agency, demand, type, producer, correlation id,
    jurisdiction subtree and time range (required, at most a year: wider ranges are for
    the streaming export); newest first, cursor pagination. An auditor finds the security
    trail only (``person.*``, ``apikey.*``, ``signing_key.*``, ``access.*`` and
    ``dead_letter.*`` events)."""
    return search.search(service().uow(), current_principal(), _args(args))


@blp.get("/export")
@permit("archive.export")
@blp.arguments(ExportArgs, location="query")
@blp.alt_response(403, description="a jurisdiction outside your subtree (before any byte)")
def export(args: dict[str, Any]) -> Response:
    """Any query streamed as JSONL or CSV in constant memory, oldest first. Demand
    content and contacts are left out unless the enterprise consented. Every refusal
    (403 outside your subtree, 422 for a bad filter) and an unavailable database are
    answered as an error before the first byte: a 200 is a stream that has started. An
    auditor exports the security trail only, as in the search."""
    args = _args(args)
    fmt = args["format"]
    # exports.export checks, scopes and reads the first batch now; only formatting and
    # the later batches are left to the stream
    body = exports.export(service().uow(), current_principal(), args)
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    return download(stream_with_context(body), f"archive.{fmt}", mimetype)


@blp.get("/verify")
@permit("archive.verify")
@blp.arguments(VerifyArgs, location="query")
@blp.response(200, VerifyOut)
@blp.alt_response(403, description="not a province's administrator or auditor; says why")
def verify(args: dict[str, Any]) -> dict[str, Any]:
    """Verify the hash chain and name the first record that does not match. By default
    from the newest checkpoint: that checkpoint, every record after it and the head;
    ``full=true`` walks every record from the start and checks every checkpoint (only
    that finds an old record edited in place). A verify that finds the chain intact
    records a checkpoint where it ended. For a province's administrators and auditors
    only (role ``admin`` or ``auditor`` bound to a province-level code): the chain is one
    platform-wide sequence, so it cannot be verified for a subtree, and the first bad
    record it names may be of any jurisdiction. Anyone else gets a 403; a city or
    district relies on the province's verification and the metric
    ``onestop_archive_last_verify_ok``. The operator's ``onestop archive verify`` is not
    bound to a jurisdiction."""
    return verification.verify(service().uow(), current_principal(), full=args["full"])


@blp.post("/replay")
@permit("archive.replay")
@blp.arguments(ReplayIn)
@blp.response(200, ReplayOut)
def replay(data: dict[str, Any]) -> dict[str, Any]:
    """Re-publish archived events (filtered by type, jurisdiction, time) to a consumer
    queue, marked as replays; consumers' idempotency holds."""
    svc = service()
    return replays.replay(
        svc.uow(),
        current_principal(),
        _args(data),
        queues=replays.known_queues(svc.settings),
        connect=replays.broker(svc.settings),
    )


class ReportArgs(Strict):
    jurisdiction = fields.String(required=True, validate=UNIT)
    period = fields.String(
        required=True, metadata={"description": "YYYY-MM-DD, YYYY-Www, YYYY-MM or YYYY-Qn"}
    )
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx", "html")))


REPORTS = {
    "demand-analysis": reports.demand_analysis,
    "progress": reports.progress,
    "dossier": reports.dossier,
}


def _render(report: dict[str, Any], fmt: str, name: str) -> Any:
    if fmt == "xlsx":
        return download(renderings.to_xlsx(report), f"{name}.xlsx")
    if fmt == "html":
        return Response(renderings.to_html(report), mimetype="text/html")
    return Response(
        json.dumps(report, ensure_ascii=False, default=str), mimetype="application/json"
    )


@blp.get("/reports/<kind>")
@permit("archive.report")
@blp.arguments(ReportArgs, location="query")
def report(args: dict[str, Any], kind: str) -> Any:
    """Reports read from the archive for a subtree and a period (day, week, month, quarter):
    ``demand-analysis`` (XN 需求分析报告: by category, source, jurisdiction, status; closure
    and on-time rates; overdue list; satisfaction; recurring themes), ``progress`` (QCY
    日调度 for a day, 周推进 for a week, 月总结 for a month), ``dossier`` (XN 服务档案:
    contact list, demand list, service ledger, assessment records). JSON, XLSX or a
    printable HTML page."""
    build_report = REPORTS.get(kind)
    if build_report is None:
        raise ApiError(404, f"No report {kind!r}; one of {', '.join(REPORTS)}.")
    result = build_report(service().uow(), current_principal(), args)
    return _render(result, args["format"], f"{kind}-{args['jurisdiction']}-{args['period']}")


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(
        build(settings), title="onestop archive", blueprints=[blp], on_scrape=metrics.refresh
    )
