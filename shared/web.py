"""The common shape of every service's Flask app.

``make_app`` gives each service the same skeleton: flask-smorest (OpenAPI at
``/openapi.json``), the error format, API-key authentication on ``/api/``,
correlation ids, ``/healthz``, ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, redirect, request, send_from_directory, url_for
from flask_smorest import Api
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import deadletters, metrics
from shared.admin import dead_letter_blueprint
from shared.auth import Principal
from shared.contracts.operations import ACCESS_REFUSED
from shared.errors import (
    ApiError,
    ErrorSchema,
    http_exception_response,
    register_error_handlers,
)
from shared.events import make_event
from shared.logs import acting, scope, setup_logging
from shared.runtime import Service
from shared.tokens import InvalidToken

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
# a \ud800–\udbff escape not followed by a \udc00–\udfff one, or the reverse
LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def correlation_of(headers: Headers) -> str:
    """The request's correlation id: the gateway's ``X-Request-ID`` (the caller's own when
    it sent a safe one, else nginx's ``$request_id``), a direct caller's
    ``X-Correlation-ID``, or a new one. A caller's id is kept only when it is a safe token:
    it travels in every event envelope (max 100 characters) and every log line."""
    for name in ("X-Request-ID", "X-Correlation-ID"):
        given = headers.get(name, "")
        if CORRELATION_RE.match(given):
            return given
    return str(uuid.uuid4())


def _refuse_nul() -> None:
    """NUL characters and lone surrogates are text no database keeps: a 422, not a 500."""
    where: dict[str, list[str]] = {}
    if "\x00" in request.path:
        where["path"] = ["contains a NUL character"]
    if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        where["query"] = ["contains a NUL character"]
    if request.mimetype == "application/x-www-form-urlencoded" and any(
        "\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)
    ):
        where["form"] = ["contains a NUL character"]
    # An upload (multipart) is read by its view, under ``views.UPLOAD_LIMIT``: reading it
    # here would hold it to the 1 MiB of a JSON body (a 20 MiB sheet was a 413).
    scan = request.content_length and request.mimetype != "multipart/form-data"
    body = request.get_data(cache=True) if scan else b""
    if b"\\u0000" in body:
        where["json"] = ["contains a NUL character (\\u0000)"]
    elif b"\\u" in body and LONE_SURROGATE.search(body):
        where["json"] = ["contains a lone UTF-16 surrogate (\\ud800–\\udfff), not text"]
    if where:
        raise ApiError(422, "NUL characters are not accepted.", fields=where)


def _refuse_other_media() -> None:
    """A body that is neither JSON nor a multipart upload is a 415, not a guess."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.content_length:
        return
    if request.mimetype not in ("application/json", "multipart/form-data"):
        raise ApiError(
            415,
            f"Send the body as application/json, not {request.mimetype or 'untyped'}.",
            fields={"headers": {"Content-Type": ["must be application/json"]}},
        )


class OnestopApi(Api):
    """flask-smorest, answering (and documenting) errors in the platform's one format."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_response(error)


def _authenticate(svc: Service) -> Principal:
    """The caller: a person's signed access token or a system's API key, verified against
    this service's own copy of the directory (``shared.directory``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "Send an access token or an API key as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    refused = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if token.count(".") == 2:  # a signed access token (a JWT)
        try:
            return svc.directory.verify_token(token)
        except InvalidToken as exc:
            raise ApiError(401, f"The access token is {exc.reason}.", headers=refused) from None
    principal = svc.directory.authenticate(token)
    if principal is None:
        raise ApiError(401, "The API key is unknown or revoked.", headers=refused)
    return principal


def _record_refusal(svc: Service, principal: Principal, resp: Response) -> None:
    """A signed-in caller refused: an ``access.refused`` event the archive keeps (the
    security trail). Never spoils the answer: a failure to record it is logged."""
    body = resp.get_json(silent=True) or {}
    reason = str((body.get("error") or {}).get("message", "forbidden"))[:500]
    try:
        uow = svc.uow()
        with uow:
            uow.emit(
                make_event(
                    ACCESS_REFUSED,
                    1,
                    producer=svc.name,
                    jurisdiction=principal.jurisdiction,
                    correlation_id=g.get("correlation_id"),
                    payload={
                        "actor": principal.key_id,
                        "role": principal.role,
                        "service": svc.name,
                        "method": request.method,
                        "path": request.path[:300],
                        "reason": reason,
                        "at": datetime.now(UTC).isoformat(),
                    },
                )
            )
            uow.commit()
    except Exception:
        log.exception("could not record a refusal")


def make_app(
    svc: Service,
    *,
    title: str,
    blueprints: list[Any],
    on_scrape: Callable[[Service], None] | None = None,
) -> Flask:
    """The service's Flask app; ``on_scrape`` refreshes gauges read from the database."""
    setup_logging(svc.settings.log_level, svc.settings.log_format)
    app = Flask(f"onestop.{svc.name}")
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # A browsable page at /<svc>/docs; Swagger UI is served from the installed
        # swagger-ui-bundle package, not a CDN (intranets have no CDN).
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="swagger-ui/",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "osk_…"}
                }
            },
            "security": [{"apiKey": []}],
            # Paths are written as the service sees them (/api/v1/...); the gateway and the
            # embedded router serve each service under /<svc>, so Swagger UI's "Try it out"
            # needs the prefix as the (relative) server URL.
            "servers": [{"url": f"/{svc.name}", "description": "through the gateway"}],
        },
        MAX_CONTENT_LENGTH=1 << 20,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    app.extensions["onestop"] = svc
    api = OnestopApi(app)
    for bp in [*blueprints, dead_letter_blueprint()]:
        api.register_blueprint(bp)
    register_error_handlers(app, probe=svc.check_database)

    @app.before_request
    def _before() -> None:
        g.started = time.perf_counter()
        g.correlation_id = correlation_of(request.headers)
        g.log_scope = scope(g.correlation_id, None, svc.name)
        g.log_scope.__enter__()  # left in teardown: no id outlives its request
        _refuse_nul()
        if request.path.startswith("/api/"):
            view = app.view_functions.get(request.endpoint or "")
            if not getattr(view, "public", False):
                g.principal = _authenticate(svc)
                acting.set((g.principal.key_id, None))
            _refuse_other_media()

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        log_scope = g.pop("log_scope", None)
        if log_scope is not None:
            log_scope.__exit__(None, None, None)

    @app.after_request
    def _after(resp: Response) -> Response:
        resp.headers["X-Correlation-ID"] = g.get("correlation_id", "")
        resp.headers["X-Request-ID"] = g.get("correlation_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(svc.name, request.method, endpoint, resp.status_code).inc()
        started = g.get("started")
        if started is not None:
            metrics.HTTP_LATENCY.labels(svc.name, endpoint).observe(time.perf_counter() - started)
        if resp.status_code == 403 and g.get("principal") is not None:
            _record_refusal(svc, g.principal, resp)
        return resp

    @app.get("/swagger-ui/<path:filename>")
    def swagger_ui(filename: str) -> Response:
        import swagger_ui_bundle

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

    @app.get("/docs/")
    def docs_slash() -> Response:
        # The page loads its assets relative to /<svc>/docs: one canonical address.
        return redirect(url_for("api-docs.openapi_swagger_ui"), 308)  # type: ignore[return-value]

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "service": svc.name})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks = {"database": svc.check_database(), "broker": svc.check_broker()}
        ok = all(v is None for v in checks.values())
        for name, problem in checks.items():
            if problem:
                log.warning("readiness: %s unavailable: %s", name, problem)
        body = {  # details stay in the log: this answer is public behind the gateway
            "status": "ready" if ok else "unavailable",
            "service": svc.name,
            "checks": {k: ("unavailable" if v else "ok") for k, v in checks.items()},
        }
        return jsonify(body), 200 if ok else 503

    @app.get("/metrics")
    def metrics_view() -> Response:
        if svc.check_database() is None:
            metrics.OUTBOX_PENDING.labels(svc.name).set(svc.relay.pending())
            metrics.DEAD_LETTERS.labels(svc.name).set(
                deadletters.count(svc.db, svc.metadata_table("dead_letters"))
            )
            if on_scrape is not None:
                on_scrape(svc)
        data, ctype = metrics.render(svc.settings.metrics_dir, svc.name)
        return Response(data, content_type=ctype)

    return app
