"""The console's client of the services (services/console/client.py) against a fake
transport: the token sent, refreshed ahead of its expiry, a refused refresh is the end of
the session, a service's refusal keeps its field messages, a 503 or an unreachable service
is ServiceDown with its Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.console.client import Api, Refused, ServiceDown, SignedOut


def tokens(expires_in: float = 600) -> dict:
    at = datetime.now(UTC) + timedelta(seconds=expires_in)
    return {"access_token": "A1", "refresh_token": "R1", "expires_at": at.isoformat()}


def api(handler, held=None) -> Api:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://gw")
    return Api(http, held, correlation_id="cid-1")


def test_the_persons_token_and_the_correlation_id_are_sent():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        seen["params"] = dict(request.url.params)
        return httpx.Response(200, json={"items": []})

    assert api(handler, tokens()).get("/intake/api/v1/demands", status=None, limit=5) == {
        "items": []
    }
    assert seen["authorization"] == "Bearer A1" and seen["x-correlation-id"] == "cid-1"
    assert seen["params"] == {"limit": "5"}  # empty filters are left out


def test_a_token_about_to_expire_is_refreshed_first_and_kept():
    held = tokens(expires_in=10)
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/sessions/refresh"):
            assert request.read() == b'{"refresh_token":"R1"}'
            later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
            return httpx.Response(
                200, json={"access_token": "A2", "refresh_token": "R2", "expires_at": later}
            )
        assert request.headers["authorization"] == "Bearer A2"
        return httpx.Response(200, json={"ok": True})

    assert api(handler, held).get("/directory/api/v1/me") == {"ok": True}
    assert calls == ["/directory/api/v1/sessions/refresh", "/directory/api/v1/me"]
    assert (held["access_token"], held["refresh_token"]) == ("A2", "R2")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_refresh_ends_the_session(status):
    """The directory's idle time-out (or a sign-out elsewhere, a disabled account)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"status": status, "message": "idle"}})

    with pytest.raises(SignedOut):
        api(handler, tokens(expires_in=-5)).get("/intake/api/v1/demands")


def test_a_401_from_a_service_ends_the_session():
    with pytest.raises(SignedOut):
        api(lambda r: httpx.Response(401, json={}), tokens()).get("/intake/api/v1/demands")


def test_a_refusal_keeps_the_services_field_messages():
    body = {
        "error": {
            "status": 422,
            "code": "invalid",
            "message": "Invalid input.",
            "fields": {"json": {"title": ["required"], "contact": {"phone": ["not a phone"]}}},
        }
    }
    with pytest.raises(Refused) as exc:
        api(lambda r: httpx.Response(422, json=body), tokens()).post("/intake/api/v1/demands", {})
    assert exc.value.status == 422 and exc.value.message == "Invalid input."
    assert exc.value.field_messages() == {"title": ["required"], "contact.phone": ["not a phone"]}


def test_a_503_or_an_unreachable_service_is_service_down_with_retry_after():
    down = api(lambda r: httpx.Response(503, headers={"Retry-After": "7"}, json={}), tokens())
    with pytest.raises(ServiceDown) as exc:
        down.get("/scoring/api/v1/kpis")
    assert (exc.value.service, exc.value.retry_after) == ("scoring", 7)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ServiceDown) as exc:
        api(unreachable, tokens()).get("/archive/api/v1/trace/x")
    assert exc.value.service == "archive" and exc.value.retry_after == 5


def test_without_tokens_nothing_is_sent_as_a_person():
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        return httpx.Response(201, json={"access_token": "A"})

    assert api(handler, None).post("/directory/api/v1/sessions", {"username": "u"}) == {
        "access_token": "A"
    }
