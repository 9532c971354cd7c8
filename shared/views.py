"""What a service's HTTP views use: blueprints whose arguments refuse unknown fields,
the signed-in principal and the permission matrix's check (``permit``), the service
behind the app, the ``Idempotency-Key`` header and file downloads. (``shared.web``
builds the app.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, g, request
from flask_smorest import Blueprint
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

from shared import permissions
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

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``arguments``, its schema made once: given a schema class,
        webargs would make one for every request (a deep copy of each field, and of each
        nested schema), which cost more than validating the body. A schema holds no state
        between loads, so the views' threads share it (as they share ``response``'s)."""
        made = schema() if isinstance(schema, type) else schema
        return cast(Callable[[F], F], super().arguments(made, *args, **kwargs))


def public(fn: F) -> F:
    """A view anyone may call without a token (signing in, the published keys)."""
    fn.public = True  # type: ignore[attr-defined]
    return fn


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise ApiError(401, "Authentication required.")
    return cast(Principal, principal)


def require_permission(action: str, principal: Principal) -> None:
    """403 in the platform's error format unless ``principal``'s role (a person: one of
    its roles) is in the row of ``action`` (``shared.permissions``; the message names the
    action and its roles) and, for a system key with scopes, the action is one of them."""
    if not permissions.action(action).admits(principal):
        raise ApiError(403, permissions.refusal(action))
    if not permissions.within(action, principal.scopes):  # a system key's narrower scopes
        raise ApiError(
            403, f"This key's scopes ({', '.join(principal.scopes)}) do not include {action}."
        )


def permit(action: str) -> Callable[[F], F]:
    """The view of ``action`` (``<service>.<view>``), callable by the roles of its row in
    the permission matrix: any other role is a 403 naming the action and the roles it
    needs, before the request's arguments are read. A public row's view needs no
    credential; a row whose credential is Open311's ``api_key`` is checked by its view
    (``require_permission``). The scope is the use cases' to enforce.

    An action without a row, or a view whose name is not the action's, fails at import."""
    row = permissions.action(action)

    def deco(fn: F) -> F:
        name = fn.__qualname__.rsplit("<locals>.", 1)[-1]
        if name != row.view:
            raise ValueError(f"permit({action!r}) is on the view {name}, not {row.view}")
        if row.public or row.credential != permissions.HEADER:
            fn.permission = action  # type: ignore[attr-defined]
            return public(fn) if row.public else fn

        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_permission(action, current_principal())
            return fn(*args, **kwargs)

        wrapper.permission = action  # type: ignore[attr-defined]
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


UPLOAD_LIMIT = 20 << 20  # an uploaded file (a survey sheet, a division list)


def file_body(description: str) -> dict[str, Any]:
    """The OpenAPI request body of a view taking one uploaded ``file`` (multipart)."""
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": description}},
    }
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def uploaded_file(what: str) -> Any:
    """The request's multipart ``file`` (up to ``UPLOAD_LIMIT``), or a 422 naming it."""
    request.max_content_length = UPLOAD_LIMIT
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(
            422,
            "The request is invalid; see fields.",
            fields={"files": {"file": [f"send the {what} as multipart field 'file'"]}},
        )
    return upload
