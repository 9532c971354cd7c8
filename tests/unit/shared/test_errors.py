"""An unexpected failure while the database is unreachable is a 503, otherwise a 500."""

import pytest
from flask import Flask

from shared.errors import register_error_handlers


def app_with(probe):
    app = Flask("t")
    register_error_handlers(app, probe=probe)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a driver error nobody classified")

    return app.test_client()


@pytest.mark.parametrize(("probe", "status"), [(lambda: "down", 503), (lambda: None, 500)])
def test_the_probe_decides_between_outage_and_bug(probe, status):
    r = app_with(probe).get("/boom")
    assert r.status_code == status
    body = r.get_json()["error"]
    assert body["code"] == ("unavailable" if status == 503 else "internal_error")
    assert ("Retry-After" in r.headers) == (status == 503)
