"""Use cases refuse in the domain's words; the HTTP layer maps each kind once."""

from __future__ import annotations

import pytest
from flask import Flask

from shared.errors import register_error_handlers, status_of
from shared.usecases import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable


def client_raising(exc: Exception):
    app = Flask("t")
    register_error_handlers(app)

    @app.get("/x")
    def x():
        raise exc

    return app.test_client()


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (NotFound("No demand 630102-2026-000001."), 404, "not_found"),
        (Conflict("Already closed."), 409, "conflict"),
        (Forbidden("Outside your subtree."), 403, "forbidden"),
        (Invalid("Inconsistent rule set."), 422, "validation_failed"),
        (Unavailable("The broker is down."), 503, "unavailable"),
    ],
)
def test_each_kind_is_one_status_in_the_one_error_format(exc, status, code):
    r = client_raising(exc).get("/x")
    assert r.status_code == status == status_of(exc)
    assert r.get_json()["error"] == {"status": status, "code": code, "message": exc.message}
    assert ("Retry-After" in r.headers) == (status == 503)


def test_a_field_refusal_names_its_location_and_field():
    r = client_raising(Invalid.field("effective_from", "in the past")).get("/x")
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"json": {"effective_from": ["in the past"]}}
    exc = Forbidden.field("jurisdiction", "outside your subtree", where="query")
    assert isinstance(exc, Forbidden) and status_of(exc) == 403
    assert exc.fields == {"query": {"jurisdiction": ["outside your subtree"]}}


def test_a_custom_code_is_kept():
    r = client_raising(Conflict("Taken.", code="duplicate_code")).get("/x")
    assert r.get_json()["error"]["code"] == "duplicate_code"


def test_a_refusal_carries_no_status_of_its_own():
    assert not hasattr(DomainError("x"), "status")  # the status is the web layer's
