"""The web console: pages rendered on the server (Jinja2, htmx, Bootstrap — every asset
served from here) for the platform's people, a backend-for-frontend that calls the services
only through their public HTTP APIs with the signed-in person's token (``client``).

It keeps no business rule and no copy of the services' data: its one state is the
server-side session (the person's tokens), in files under the data directory. Its cookie is
HttpOnly, SameSite=Lax and Secure behind TLS (``ONESTOP_CONSOLE_SECURE_COOKIES``); every
form carries a CSRF token (Flask-WTF); the Content-Security-Policy allows no inline script;
the strings are in translation catalogues (Flask-Babel; Chinese is the source language).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cachelib.file import FileSystemCache
from flask import (
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import Babel
from flask_session import Session
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from services.console import admin, alliance, auth, cockpit, hall, ordering, work
from services.console.client import Api, Refused, ServiceDown, SignedOut, transport_for
from services.console.labels import china_time, label
from services.console.nav import nav_for
from shared import metrics
from shared.config import Settings, load_settings
from shared.logs import scope, setup_logging
from shared.web import correlation_of

log = logging.getLogger(__name__)
NAME = "console"
BLUEPRINTS = (auth.bp, hall.bp, ordering.bp, work.bp, cockpit.bp, alliance.bp, admin.bp)
LANGUAGES = ("zh_CN", "en")

# No inline script or style, no other origin: the pages' scripts are files of this service.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _secret_key(settings: Settings) -> str:
    """The key the session cookie is signed with: the setting, else one kept under the data
    directory (created once, readable by its owner only)."""
    if settings.console_secret_key:
        return settings.console_secret_key
    path = settings.data_dir / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else "zh_CN"


def create_app(
    settings: Settings | None = None, *, wsgi: Callable[..., Any] | None = None
) -> Flask:
    """The console; ``wsgi``: the platform's application to call in-process (the embedded
    default and the tests), else the gateway at ``ONESTOP_CONSOLE_API_URL``."""
    settings = settings or load_settings()
    setup_logging(settings.log_level, settings.log_format)
    app = Flask(__name__)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    sessions = Path(settings.data_dir) / "console-sessions"
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_TYPE="cachelib",
        SESSION_CACHELIB=FileSystemCache(str(sessions), threshold=100_000, mode=0o600),
        SESSION_PERMANENT=True,
        SESSION_REFRESH_EACH_REQUEST=False,  # written when it changes (a sign-in, a token refresh)
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),  # the directory's idle time-out rules
        SESSION_COOKIE_NAME="onestop_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console_secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
    )
    Session(app)
    CSRFProtect(app)
    Babel(app, locale_selector=_locale)
    http = transport_for(settings.console_api_url, wsgi)
    app.extensions["console"] = {"http": http, "settings": settings}
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["china_time"] = china_time

    @app.before_request
    def _begin() -> None:
        g.started = time.perf_counter()
        g.correlation_id = correlation_of(request.headers)
        g.log_scope = scope(g.correlation_id, None, NAME)
        g.log_scope.__enter__()  # left in teardown: no id outlives its request
        g.api = Api(http, session.get("tokens"), correlation_id=g.correlation_id)
        g.person = session.get("person")

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        log_scope = g.pop("log_scope", None)
        if log_scope is not None:
            log_scope.__exit__(None, None, None)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("correlation_id", "")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "static":
            resp.headers.setdefault("Cache-Control", "no-store")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(NAME, request.method, endpoint, resp.status_code).inc()
        if "started" in g:
            metrics.HTTP_LATENCY.labels(NAME, endpoint).observe(time.perf_counter() - g.started)
        return resp

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"person": g.get("person"), "nav": nav_for(g.get("person")), "lang": _locale()}

    @app.errorhandler(SignedOut)
    def _signed_out(_: SignedOut) -> Response:
        session.clear()
        target = url_for(
            "auth.sign_in", next=request.full_path if request.method == "GET" else None
        )
        if request.headers.get("HX-Request"):
            resp = Response(status=204)
            resp.headers["HX-Redirect"] = target
            return resp
        return redirect(target)  # type: ignore[return-value]

    @app.errorhandler(ServiceDown)
    def _down(exc: ServiceDown) -> tuple[str, int, dict[str, str]]:
        log.warning("service %s unavailable", exc.service)
        page = render_template("error.html", status=503, service=exc.service, retry=exc.retry_after)
        return page, 503, {"Retry-After": str(exc.retry_after)}

    @app.errorhandler(Refused)
    def _refused(exc: Refused) -> tuple[str, int]:
        """A refusal no page handled itself: the service's status and message."""
        status = exc.status if 400 <= exc.status < 500 else 502
        return render_template("error.html", status=status, message=exc.message), status

    @app.errorhandler(CSRFError)
    def _csrf(_: CSRFError) -> tuple[str, int]:
        return render_template("error.html", status=400, csrf=True), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int]:
        return render_template("error.html", status=exc.code or 500), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int]:
        log.exception("console error")
        return render_template("error.html", status=500), 500

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics_page() -> Response:
        # the embedded shape: the console's samples and the process's own (CPU, memory)
        data, ctype = metrics.render(settings.metrics_dir, NAME, unowned=True)
        return Response(data, content_type=ctype)

    return app
