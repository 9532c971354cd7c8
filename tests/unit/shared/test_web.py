"""The web layer's correlation ids: taken from the gateway, answered, and gone after."""

from __future__ import annotations

import logging

import pytest
from flask import jsonify
from werkzeug.test import Client

from shared.logs import CorrelationFilter, acting, correlation_id, service
from shared.web import make_app


@pytest.fixture
def client(quiet_service):
    svc = quiet_service("visits")
    app = make_app(svc, title="test", blueprints=[])

    @app.get("/probe")
    def probe():
        logging.getLogger("onestop.test.web").info("handling")
        return jsonify(cid=correlation_id.get(), service=service.get())

    return Client(app)


def test_the_gateway_s_request_id_is_the_correlation_id_and_is_answered(client):
    r = client.get("/probe", headers={"X-Request-ID": "f00dfeed0123", "X-Correlation-ID": "x"})
    assert r.get_json() == {"cid": "f00dfeed0123", "service": "visits"}
    assert r.headers["X-Request-ID"] == r.headers["X-Correlation-ID"] == "f00dfeed0123"


def test_a_direct_caller_s_correlation_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/probe", headers={"X-Correlation-ID": "mine-1"}).get_json()["cid"] == (
        "mine-1"
    )
    r = client.get("/probe", headers={"X-Request-ID": "bad id;drop"})
    assert len(r.get_json()["cid"]) == 36 and r.headers["X-Request-ID"] == r.get_json()["cid"]


def test_no_request_s_id_is_left_on_the_thread_after_it(client, caplog, monkeypatch):
    # pytest keeps its capturing handler from test to test: the filter is this test's
    monkeypatch.setattr(caplog.handler, "filters", [CorrelationFilter()])
    with caplog.at_level(logging.INFO):
        client.get("/probe", headers={"X-Request-ID": "req-7"})
        client.get("/nowhere", headers={"X-Request-ID": "req-8"})  # a 404 too
        logging.getLogger("onestop.test.web").info("after")
    during, after = (r for r in caplog.records if r.getMessage() in ("handling", "after"))
    assert during.correlation_id == "req-7" and during.service == "visits"
    assert after.correlation_id == "-" and after.actor == "-" and after.service == "-"
    assert (correlation_id.get(), acting.get(), service.get()) == ("-", None, None)
