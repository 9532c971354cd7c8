"""The committed API documents are the ones the code generates."""

import json
from pathlib import Path

from onestop.cli import openapi_documents

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
