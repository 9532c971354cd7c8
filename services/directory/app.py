"""Directory HTTP API: the unit tree (read, open, rename, retire, reopen), API keys, and
the import of the official divisions."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

from services.directory import build, imports, keys, units
from services.directory import schemas as sc
from shared.config import Settings
from shared.errors import ApiError
from shared.views import OnestopBlueprint, current_principal, require_role, service
from shared.web import make_app

blp = OnestopBlueprint(
    "directory", __name__, url_prefix="/api/v1", description="Directory (places and keys)"
)
IMPORT_LIMIT = 20 << 20


@blp.get("/units")
@blp.arguments(sc.UnitArgs, location="query")
@blp.response(200, sc.UnitList)
def list_units(args: dict[str, Any]) -> dict[str, Any]:
    """Units by parent, subtree, level or name (the tree is public to every caller)."""
    return units.list_units(service().uow(), current_principal(), args)


@blp.post("/units")
@require_role("admin")
@blp.arguments(sc.UnitIn)
@blp.response(201, sc.UnitDetail)
def open_unit(data: dict[str, Any]) -> dict[str, Any]:
    """Open a township (its national code), a park, a service station or a park work
    station (the platform codes them: ``630102-P0001``) below a unit of your subtree."""
    return units.open_unit(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.get("/units/<code>")
@blp.response(200, sc.UnitDetail)
def get_unit(code: str) -> dict[str, Any]:
    """A unit with its path, children and every change it went through."""
    return units.get_unit(service().uow(), current_principal(), code)


@blp.patch("/units/<code>")
@require_role("admin")
@blp.arguments(sc.UnitChangeIn)
@blp.response(200, sc.UnitDetail)
def change_unit(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Rename, retire (naming its successor) or reopen a unit below your own. A retired
    unit keeps its code, history and records; it takes no new filings."""
    return units.change_unit(
        service().uow(), current_principal(), code, data, correlation_id=g.correlation_id
    )


@blp.get("/keys")
@require_role("admin")
@blp.arguments(sc.KeyArgs, location="query")
@blp.response(200, sc.KeyList)
def list_keys(args: dict[str, Any]) -> dict[str, Any]:
    """The API keys of your subtree (never their secrets)."""
    return keys.list_keys(service().uow(), current_principal(), args)


@blp.post("/keys")
@require_role("admin")
@blp.arguments(sc.KeyIn)
@blp.response(201, sc.IssuedKey)
def issue_key(data: dict[str, Any]) -> dict[str, Any]:
    """A key for a system of a unit in your subtree (an administrator's key only below your
    own unit); the key is shown once and works in every service a moment later."""
    return keys.issue_key(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.delete("/keys/<key_id>")
@require_role("admin")
@blp.response(200, sc.KeyOut)
def revoke_key(key_id: str) -> dict[str, Any]:
    """Revoke a key of your subtree; every service refuses it once told."""
    return keys.revoke_key(
        service().uow(), current_principal(), key_id, correlation_id=g.correlation_id
    )


@blp.post("/divisions/import")
@require_role("admin")
@blp.response(200, sc.ImportReport)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV code,name,level,parent (UTF-8), ≤ 20 MiB",
                        }
                    },
                }
            }
        },
    }
)
def import_divisions() -> dict[str, Any]:
    """Bring the tree in line with an official division list (province administrators):
    new units opened, renamed and moved ones changed, missing ones retired with their
    successors; a file with any bad line changes nothing; the same file twice, nothing."""
    request.max_content_length = IMPORT_LIMIT
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(
            422,
            "The request is invalid; see fields.",
            fields={"files": {"file": ["send the CSV as multipart field 'file'"]}},
        )
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(422, "Not UTF-8.", fields={"files": {"file": ["not UTF-8"]}}) from None
    return imports.import_divisions(
        service().uow(), current_principal(), text, correlation_id=g.correlation_id
    )


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop directory", blueprints=[blp])
