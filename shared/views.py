"""What a service's HTTP views use: blueprints whose arguments refuse unknown fields,
the signed-in principal and role checks, the service behind the app, the
``Idempotency-Key`` header and file downloads. (``shared.web`` builds the app.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

from shared.auth import Principal
from shared.errors import ApiError, invalid
from shared.runtime import Service

F = TypeVar("F", bound=Callable[..., Any])


class StrictParser(FlaskParser):
    """webargs would drop unknown query parameters silently; a typo in a filter must
    be an error, not a different result."""

    DEFAULT_UNKNOWN_BY_LOCATION = dict.fromkeys(
        ("json", "form", "json_or_form", "query", "view_args"), RAISE
    )


class OnestopBlueprint(Blueprint):
    """A flask-smorest blueprint whose arguments refuse unknown fields."""

    ARGUMENTS_PARSER = StrictParser()


def public(fn: F) -> F:
    """A view anyone may call without a token (signing in, the published keys)."""
    fn.public = True  # type: ignore[attr-defined]
    return fn


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise ApiError(401, "Authentication required.")
    return cast(Principal, principal)


def require_role(*roles: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            p = current_principal()
            if p.role not in roles:
                raise ApiError(403, f"This call needs one of the roles: {', '.join(roles)}.")
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return deco


def service() -> Service:
    from flask import current_app

    return cast(Service, current_app.extensions["onestop"])


IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key`` header (1–200 visible ASCII characters), if any."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise invalid("headers", "Idempotency-Key", "1 to 200 visible ASCII characters")
    return key


def download(body: Any, filename: str, mimetype: str = XLSX) -> Response:
    """A file to save (a workbook by default); ``body`` may be a stream of chunks."""
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
