"""The operator's API every service has: its dead letters, listed and re-driven.

``/api/v1/dead-letters`` is for province administrators: a dead letter may hold any
jurisdiction's event, and re-driving one acts on the whole platform's flow.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from marshmallow import RAISE, Schema, fields, validate

from shared import deadletters
from shared.errors import ApiError
from shared.views import OnestopBlueprint, current_principal, permit, service


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DeadLetterArgs(_Strict):
    queue = fields.String(
        metadata={"description": "a consumer queue, e.g. dispatch.on_demand_accepted"}
    )
    status = fields.String(
        load_default="dead",
        validate=validate.OneOf((*deadletters.STATUSES, "all")),
        metadata={"description": "dead (default), redriven or all"},
    )
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeadLetterOut(Schema):
    id = fields.Integer()
    queue = fields.String()
    event_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    reason = fields.String()
    attempts = fields.Integer()
    failed_at = fields.String()
    status = fields.String()
    times = fields.Integer(metadata={"description": "how often it was dead-lettered"})
    redriven_at = fields.String(allow_none=True)
    redriven_by = fields.String(allow_none=True)
    body = fields.String(metadata={"description": "the message as it was (show only)"})
    headers = fields.Dict(metadata={"description": "its headers, x-onestop-* included"})


class DeadLetterPage(Schema):
    items = fields.List(fields.Nested(DeadLetterOut))
    next_after = fields.Integer(allow_none=True)


class RedriveIn(_Strict):
    queue = fields.String(required=True)
    ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        load_default=None,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "these dead letters only (default: every dead one of the queue)"},
    )


class RedriveOut(Schema):
    service = fields.String()
    queue = fields.String()
    redriven = fields.List(fields.Integer())
    skipped = fields.List(fields.Dict())


def require_province_admin() -> str:
    """The caller's name when it is an administrator of a province (the scope of the
    permission matrix's row; ``permit`` has checked the role); 403 otherwise."""
    p = current_principal()
    if not p.is_province_admin:
        raise ApiError(403, "Dead letters are for a province's administrators.")
    return f"{p.role}:{p.key_id} ({p.name})"


def _queue(name: str, where: str) -> str:
    svc = service()
    if not name.startswith(f"{svc.name}.") or len(name) > 100:
        raise ApiError(
            422,
            "The request is invalid; see fields.",
            fields={where: {"queue": [f"not a queue of {svc.name} ({svc.name}.<handler>)"]}},
        )
    return name


def dead_letter_blueprint() -> OnestopBlueprint:
    blp = OnestopBlueprint(
        "dead_letters",
        __name__,
        url_prefix="/api/v1/dead-letters",
        description="Dead letters of this service's consumers (province administrators)",
    )

    @blp.get("")
    @permit("dead_letters.list_dead_letters")
    @blp.arguments(DeadLetterArgs, location="query")
    @blp.response(200, DeadLetterPage)
    def list_dead_letters(args: dict[str, Any]) -> dict[str, Any]:
        """Dead letters, oldest first, with why and when they failed."""
        require_province_admin()
        svc = service()
        queue = _queue(args["queue"], "query") if args.get("queue") else None
        status = None if args["status"] == "all" else args["status"]
        items = deadletters.listing(
            svc.db,
            svc.metadata_table("dead_letters"),
            queue=queue,
            status=status,
            after_id=args["after"],
            limit=args["limit"] + 1,
        )
        page = items[: args["limit"]]
        more = len(items) > args["limit"]
        return {"items": page, "next_after": page[-1]["id"] if more else None}

    @blp.get("/<int:letter_id>")
    @permit("dead_letters.show_dead_letter")
    @blp.response(200, DeadLetterOut)
    def show_dead_letter(letter_id: int) -> dict[str, Any]:
        """One dead letter with its body and headers."""
        require_province_admin()
        svc = service()
        found = deadletters.show(svc.db, svc.metadata_table("dead_letters"), letter_id)
        if found is None:
            abort(404, f"No dead letter {letter_id}.")
        return found

    @blp.post("/redrive")
    @permit("dead_letters.redrive")
    @blp.arguments(RedriveIn)
    @blp.response(200, RedriveOut)
    def redrive(data: dict[str, Any]) -> dict[str, Any]:
        """Put dead letters back on their queue after a fix (archived as
        ``dead_letter.redriven``); the consumer's inbox applies each event at most once."""
        actor = require_province_admin()
        queue = _queue(data["queue"], "json")
        return service().redrive(queue, actor, data.get("ids"))

    return blp
