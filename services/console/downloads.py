"""What several pages share: a service's file passed through as it came."""

from __future__ import annotations

from typing import Any

from flask import Response, g


def passthrough(path: str, **params: Any) -> Response:
    """A service's download (an XLSX) as it came: its content, type and file name.
    ``Refused`` and ``ServiceDown`` propagate to the caller or the app's handlers."""
    r = g.api.raw("GET", path, params=params)
    resp = Response(r.content, content_type=r.headers.get("Content-Type"))
    if r.headers.get("Content-Disposition"):
        resp.headers["Content-Disposition"] = r.headers["Content-Disposition"]
    return resp
