"""One JSON error format for every service.

    {"error": {"status": 422, "code": "validation_failed",
               "message": "The request is invalid.",
               "fields": {"json": {"title": ["Missing data for required field."]}}}}

``fields`` appears only for validation errors and names every bad field, by
location (json, query, headers, path).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify
from marshmallow import Schema, ValidationError, fields
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from shared.faults import DATABASE, RETRY_AFTER_SECONDS, unavailable
from shared.usecases import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        metadata={"description": "validation errors by location and field, e.g. json.title"},
    )
    correlation_id = fields.String()


class ErrorSchema(Schema):
    """The one error format, as documented in every OpenAPI document."""

    error = fields.Nested(ErrorBody, required=True)


class ApiError(Exception):
    """Raise from a route or a handler to answer with a clear 4xx."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.fields = fields
        self.headers = headers or {}


def invalid(where: str, field: str, message: str) -> DomainError:
    """A 422 naming one field of one location (``json``, ``query``, ``path``, ``headers``)."""
    return Invalid.field(field, message, where=where)


# Each kind of refusal a use case raises (shared.usecases), as a status code: the one place.
STATUS_OF: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    Unavailable: 503,
}


def status_of(exc: DomainError) -> int:
    return next(s for kind, s in STATUS_OF.items() if isinstance(exc, kind))


def as_api_error(exc: DomainError) -> ApiError:
    """The HTTP answer to a use case's refusal."""
    return ApiError(status_of(exc), exc.message, code=exc.code, fields=exc.fields)


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "status": status,
        "code": code or _CODES.get(status, "error"),
        "message": message,
    }
    if fields:
        body["fields"] = fields
    cid = g.get("correlation_id") if g else None
    if cid:
        body["correlation_id"] = cid
    resp = jsonify({"error": body})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def http_exception_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:  # webargs validation error: {"json": {"field": [...]}}
        return error_response(
            422 if status in (400, 422) else status,
            "The request is invalid; see fields.",
            code="validation_failed",
            fields=messages,
        )
    headers = dict(data.get("headers", {})) if isinstance(data, dict) else {}
    return error_response(status, exc.description or exc.name, headers=headers)


def register_error_handlers(app: Flask, probe: Callable[[], str | None] | None = None) -> None:
    """The one error format for ``app``. ``probe()`` says whether the service's database
    is reachable (None when it is): an unexpected failure while it is not is an outage
    (503), not a bug (500), whatever exception the driver chose to show it."""

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return _api_error(as_api_error(exc))

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        headers = dict(exc.headers)
        if exc.status == 503:  # every 503 says when to come back
            headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return error_response(
            exc.status, exc.message, code=exc.code, fields=exc.fields, headers=headers
        )

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(422, "The request is invalid; see fields.", fields=fields)

    @app.errorhandler(IntegrityError)
    def _conflict(exc: IntegrityError) -> Response:
        # A uniqueness check lost a race with a concurrent request: nothing was
        # written (the transaction rolled back), and a retry sees the winner.
        log.info("concurrent write conflict: %s", exc.orig)
        return error_response(409, "A concurrent change conflicted with this request; retry it.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return http_exception_response(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        dependency = unavailable(exc)
        if dependency is None and probe is not None and probe() is not None:
            dependency = DATABASE
        if dependency is not None:
            return unavailable_response(dependency, exc)
        log.exception("unhandled error")
        return error_response(500, "Internal error; it has been logged.")


def unavailable_response(dependency: str, exc: BaseException | None = None) -> Response:
    """503 with ``Retry-After`` while a dependency is down. The transaction that met the
    outage rolled back (a unit of work commits all or nothing), so a retry with the same
    ``Idempotency-Key`` is safe."""
    log.warning("%s unavailable: %s", dependency, f"{type(exc).__name__}: {exc}"[:300])
    return error_response(
        503,
        f"The service's {dependency} is unavailable for a moment; retry the request.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
