"""The committed API documents are the ones the code generates."""

import json
from pathlib import Path

from werkzeug.test import Client

from onestop.cli import openapi_documents
from shared.config import SERVICES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "openapi"


def test_openapi_documents_are_current():
    for name, text in openapi_documents().items():
        committed = (DOCS / f"{name}.json").read_text()
        assert committed == text, f"docs/openapi/{name}.json is stale: run `onestop openapi`"


def test_documents_describe_auth_and_the_error_format():
    spec = json.loads((DOCS / "intake.json").read_text())
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]
    post = spec["paths"]["/api/v1/demands"]["post"]
    assert "201" in post["responses"] and "422" in post["responses"]


def _router(settings):
    """The embedded shape's router: every service under /<svc>, the console under /."""
    from onestop import migrate
    from onestop.embedded import Platform

    migrate.upgrade(settings)
    platform = Platform(settings)
    return platform, Client(platform.router)


def test_every_service_answers_its_docs_with_or_without_the_slash(embedded_settings):
    _, client = _router(embedded_settings)
    for name in SERVICES:
        page = client.get(f"/{name}/docs")
        assert page.status_code == 200 and b"swagger-ui" in page.data, name
        slash = client.get(f"/{name}/docs/")
        assert slash.status_code == 308, (name, slash.status_code)
        assert slash.headers["Location"] == f"/{name}/docs"
        # the page's assets are relative to the canonical address: they load from there
        assert client.get(f"/{name}/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_the_docs_redirect_keeps_the_gateways_prefix(embedded_settings):
    """Behind nginx the service sees /docs/ with X-Forwarded-Prefix: /intake."""
    from services.intake.app import create_app

    app = create_app(embedded_settings)
    r = app.test_client().get("/docs/", headers={"X-Forwarded-Prefix": "/intake"})
    assert r.status_code == 308 and r.headers["Location"] == "/intake/docs"


def _example(path: str, parameters: list) -> str:
    """``path`` with each {parameter} filled with a value its type accepts."""
    for p in parameters:
        if p.get("in") == "path":
            kind = p.get("schema", {}).get("type")
            path = path.replace("{" + p["name"] + "}", "1" if kind == "integer" else "x")
    return path


def test_every_document_names_the_prefix_the_gateway_routes(embedded_settings):
    """server url + path is an address the router serves (Swagger UI's "Try it out")."""
    platform, client = _router(embedded_settings)
    for name in SERVICES:
        spec = json.loads((DOCS / f"{name}.json").read_text())
        [server] = spec["servers"]
        prefix = server["url"]
        assert prefix == f"/{name}" and prefix in platform.apps, name
        adapter = platform.apps[prefix].url_map.bind("localhost")
        # what answers an address nothing serves: the service's 404, or the console's
        unrouted = {client.get(prefix + "/nothing-here").data, client.get("/nothing-here").data}
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if method == "parameters":
                    continue
                # raises NotFound or MethodNotAllowed when the path is not the service's
                example = _example(
                    path, operations.get("parameters", []) + operation.get("parameters", [])
                )
                adapter.match(example, method.upper())
                if method == "get" and "{" not in path:
                    # through the router; a view's own 404 (say, SSO not configured) is
                    # not the one of an address nothing serves
                    r = client.get(prefix + path)
                    assert r.status_code != 404 or r.data not in unrouted, (prefix + path, r.data)
