"""The gateway's body limits are the services' own (issue 17): nginx lets through what
each service accepts, and no more, so a drift on either side fails here.

A service accepts JSON bodies up to its ``MAX_CONTENT_LENGTH`` and, where its OpenAPI
document has a multipart upload, files up to ``shared.views.UPLOAD_LIMIT``; the console
takes uploads in its forms up to its own ``MAX_CONTENT_LENGTH``.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import crossplane
import pytest

from services.console.app import create_app as create_console
from shared.config import SERVICES
from shared.views import UPLOAD_LIMIT

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", text).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit.lower()]


def _parse(path: Path) -> list[dict[str, Any]]:
    result = crossplane.parse(str(path), combine=True, check_ctx=True, check_args=True)
    assert result["status"] == "ok", result["errors"]
    return result["config"][0]["parsed"]


def local_config(tmp_path: Path) -> Path:
    """The run-stack template formatted as ``onestop/stack.py`` does."""
    template = (DEPLOY / "nginx.local.conf.template").read_text()
    ports = {f"{n}_port": 9000 + i for i, n in enumerate((*SERVICES, "console"))}
    conf = tmp_path / "nginx.conf"
    conf.write_text(template.format(base=tmp_path, port=8080, **ports))
    return conf


def limits(parsed: list[dict[str, Any]]) -> dict[str, int]:
    """Each prefix location's client_max_body_size (its own, or the server's, or http's)."""

    def own(block: list[dict[str, Any]], inherited: int) -> int:
        found = [d["args"][0] for d in block if d["directive"] == "client_max_body_size"]
        return size(found[-1]) if found else inherited

    [http] = [d for d in parsed if d["directive"] == "http"]
    at_http = own(http["block"], 1 << 20)  # nginx's default is 1m
    out = {}
    for server in (d for d in http["block"] if d["directive"] == "server"):
        at_server = own(server["block"], at_http)
        for loc in (d for d in server["block"] if d["directive"] == "location"):
            if len(loc["args"]) == 1 and loc["args"][0].startswith("/"):  # not "= /x", "@x"
                out[loc["args"][0]] = own(loc["block"], at_server)
    return out


@pytest.fixture(scope="module")
def accepted() -> dict[str, int]:
    """What each service (``/<svc>/``) and the console (``/``) accept, from their code."""
    from onestop.cli import openapi_documents

    documents = openapi_documents()
    out = {}
    for name in SERVICES:
        app = importlib.import_module(f"services.{name}.app").create_app()
        doc = json.loads(documents[name])
        uploads = [
            path
            for path, ops in doc["paths"].items()
            for method, op in ops.items()
            if method != "parameters"
            and "multipart/form-data" in op.get("requestBody", {}).get("content", {})
        ]
        limit = app.config["MAX_CONTENT_LENGTH"]
        out[f"/{name}/"] = max(limit, UPLOAD_LIMIT) if uploads else limit
    out["/"] = create_console(wsgi=lambda e, s: []).config["MAX_CONTENT_LENGTH"]
    return out


def test_the_services_limits_are_what_the_readme_promises(accepted):
    assert accepted["/intake/"] == accepted["/directory/"] == 20 << 20  # survey sheets
    assert accepted["/dispatch/"] == 1 << 20


@pytest.mark.parametrize("which", ["compose", "run-stack"])
def test_each_location_allows_exactly_what_its_service_accepts(accepted, which, tmp_path):
    conf = DEPLOY / "nginx.conf" if which == "compose" else local_config(tmp_path)
    assert limits(_parse(conf)) == accepted


def test_a_drift_fails(accepted, tmp_path):
    """The old gateway (1m everywhere) refused the 20 MiB imports: this test sees it."""
    old = re.sub(r"\n\s*client_max_body_size 20m;", "", (DEPLOY / "nginx.conf").read_text())
    (tmp_path / "old.conf").write_text(old)
    found = limits(_parse(tmp_path / "old.conf"))
    assert found != accepted
    assert {k for k in found if found[k] != accepted[k]} == {"/intake/", "/directory/", "/"}
