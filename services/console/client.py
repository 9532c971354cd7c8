"""The console's only way to the platform: the services' public HTTP APIs, called with the
signed-in person's access token — so every permission, every subtree and every field-level
message is the service's own.

* ``Api`` sends one request for the person of the current session; an access token about
  to expire is refreshed first at the directory (``/directory/api/v1/sessions/refresh``),
  and a refused refresh (the session idle, ended or disabled) is ``SignedOut``.
* A service's error answer (the platform's one error format) is ``Refused``, with its
  field-level messages; a service that is down or answers 503 is ``ServiceDown`` with its
  ``Retry-After`` — the page says to retry, never shows a trace.

The transport is httpx's: over the network to the gateway in the stack
(``ONESTOP_CONSOLE_API_URL``), in-process through the platform's WSGI application in the
embedded default and the tests (``httpx.WSGITransport``): the same requests either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

REFRESH_AHEAD = timedelta(seconds=30)  # refresh an access token this close to its expiry


class SignedOut(Exception):
    """The person's directory session is over (idle, ended, expired): sign in again."""


@dataclass
class Refused(Exception):
    """A service refused the request: its status, message and field-level messages."""

    status: int
    message: str
    code: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"

    def field_messages(self) -> dict[str, list[str]]:
        """The messages by field, flattened (``json.contact.phone`` → ``contact.phone``)."""
        out: dict[str, list[str]] = {}

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, Mapping):
                for k, v in node.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            elif isinstance(node, list) and all(isinstance(x, str) for x in node):
                out.setdefault(prefix, []).extend(node)
            elif isinstance(node, list):
                for i, x in enumerate(node):
                    walk(f"{prefix}.{i}", x)
            elif node is not None:
                out.setdefault(prefix, []).append(str(node))

        for where, messages in self.fields.items():
            walk("" if where in ("json", "query", "form", "files", "path") else where, messages)
        return out


@dataclass
class ServiceDown(Exception):
    """A service is unreachable or answered 503: try again after ``retry_after`` seconds."""

    service: str
    retry_after: int = 5


def transport_for(api_url: str | None, wsgi: Callable[..., Any] | None) -> httpx.Client:
    """An HTTP client to the gateway at ``api_url``, or in-process to ``wsgi``."""
    if wsgi is not None:
        return httpx.Client(
            transport=httpx.WSGITransport(app=wsgi), base_url="http://console.internal"
        )
    if not api_url:
        raise ValueError("ONESTOP_CONSOLE_API_URL is required outside the embedded default")
    return httpx.Client(base_url=api_url, timeout=httpx.Timeout(15.0, connect=3.0))


def _now() -> datetime:
    return datetime.now(UTC)


class Api:
    """The services' APIs for the person whose tokens are in ``tokens`` (the server-side
    session: ``access_token``, ``refresh_token``, ``expires_at``)."""

    def __init__(
        self,
        http: httpx.Client,
        tokens: MutableMapping[str, Any] | None,
        *,
        correlation_id: str | None = None,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.correlation_id = correlation_id

    # --- requests --------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.send("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.send("POST", path, json=body, **kw)

    def put(self, path: str, body: Any = None) -> Any:
        return self.send("PUT", path, json=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.send("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.send("DELETE", path)

    def send(self, method: str, path: str, **kw: Any) -> Any:
        """The JSON answer (None for an empty one); ``Refused`` or ``ServiceDown`` else."""
        r = self.raw(method, path, **kw)
        if not r.content:
            return None
        return r.json()

    def raw(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The answer as it came (a download), after the error checks of ``send``."""
        if "params" in kw:
            kw["params"] = {k: v for k, v in kw["params"].items() if v not in (None, "")}
        headers = dict(kw.pop("headers", None) or {})
        if self.correlation_id:
            headers["X-Correlation-ID"] = self.correlation_id
        if self.tokens is not None:
            headers["Authorization"] = f"Bearer {self._access_token()}"
        service = path.strip("/").split("/", 1)[0]
        try:
            r = self.http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise ServiceDown(service) from exc
        if r.status_code == 401 and self.tokens is not None:
            raise SignedOut()
        if r.status_code in (502, 503, 504):
            raise ServiceDown(service, _retry_after(r))
        if r.status_code >= 400:
            raise _refused(r)
        return r

    # --- tokens ------------------------------------------------------------------------------

    def _access_token(self) -> str:
        assert self.tokens is not None
        expires = datetime.fromisoformat(self.tokens["expires_at"])
        if expires - REFRESH_AHEAD <= _now():
            self.refresh()
        return str(self.tokens["access_token"])

    def refresh(self) -> None:
        """A new access token (and refresh token) for the session; ``SignedOut`` when the
        directory refuses (idle time-out, session ended, account disabled)."""
        assert self.tokens is not None
        try:
            r = self.http.post(
                "/directory/api/v1/sessions/refresh",
                json={"refresh_token": self.tokens["refresh_token"]},
            )
        except httpx.TransportError as exc:
            raise ServiceDown("directory") from exc
        if r.status_code in (400, 401, 403, 404, 422):
            raise SignedOut()
        if r.status_code >= 500:
            raise ServiceDown("directory", _retry_after(r))
        keep(self.tokens, r.json())


def keep(tokens: MutableMapping[str, Any], answer: Mapping[str, Any]) -> None:
    """Keep a sign-in's or a refresh's tokens in the session."""
    tokens["access_token"] = answer["access_token"]
    tokens["refresh_token"] = answer["refresh_token"]
    tokens["expires_at"] = answer["expires_at"]
    tokens["session_id"] = answer.get("session_id", tokens.get("session_id"))


def _retry_after(r: httpx.Response) -> int:
    try:
        return max(1, int(r.headers.get("Retry-After", "5")))
    except ValueError:
        return 5


def _refused(r: httpx.Response) -> Refused:
    try:
        error = r.json().get("error") or {}
    except ValueError:
        error = {}
    return Refused(
        status=r.status_code,
        message=str(error.get("message") or r.reason_phrase),
        code=str(error.get("code") or ""),
        fields=error.get("fields") or {},
    )
