"""Directory HTTP API: the unit tree (read, open, rename, retire, reopen), API keys, and
the import of the official divisions."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

from services.directory import build, imports, keys, people, signin, units
from services.directory import schemas as sc
from services.directory.passwords import Hasher
from shared.config import Settings
from shared.errors import ApiError
from shared.views import OnestopBlueprint, current_principal, permit, service
from shared.web import make_app

blp = OnestopBlueprint(
    "directory", __name__, url_prefix="/api/v1", description="Directory (places and keys)"
)
IMPORT_LIMIT = 20 << 20


@blp.get("/units")
@permit("directory.list_units")
@blp.arguments(sc.UnitArgs, location="query")
@blp.response(200, sc.UnitList)
def list_units(args: dict[str, Any]) -> dict[str, Any]:
    """Units by parent, subtree, level or name (the tree is public to every caller)."""
    return units.list_units(service().uow(), current_principal(), args)


@blp.post("/units")
@permit("directory.open_unit")
@blp.arguments(sc.UnitIn)
@blp.response(201, sc.UnitDetail)
def open_unit(data: dict[str, Any]) -> dict[str, Any]:
    """Open a township (its national code), a park, a service station or a park work
    station (the platform codes them: ``630102-P0001``) below a unit of your subtree."""
    return units.open_unit(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.get("/units/<code>")
@permit("directory.get_unit")
@blp.response(200, sc.UnitDetail)
def get_unit(code: str) -> dict[str, Any]:
    """A unit with its path, children and every change it went through."""
    return units.get_unit(service().uow(), current_principal(), code)


@blp.patch("/units/<code>")
@permit("directory.change_unit")
@blp.arguments(sc.UnitChangeIn)
@blp.response(200, sc.UnitDetail)
def change_unit(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Rename, retire (naming its successor) or reopen a unit below your own. A retired
    unit keeps its code, history and records; it takes no new filings."""
    return units.change_unit(
        service().uow(), current_principal(), code, data, correlation_id=g.correlation_id
    )


@blp.get("/keys")
@permit("directory.list_keys")
@blp.arguments(sc.KeyArgs, location="query")
@blp.response(200, sc.KeyList)
def list_keys(args: dict[str, Any]) -> dict[str, Any]:
    """The API keys of your subtree (never their secrets)."""
    return keys.list_keys(service().uow(), current_principal(), args)


@blp.post("/keys")
@permit("directory.issue_key")
@blp.arguments(sc.KeyIn)
@blp.response(201, sc.IssuedKey)
def issue_key(data: dict[str, Any]) -> dict[str, Any]:
    """A key for a system of a unit in your subtree (an administrator's key only below your
    own unit); the key is shown once and works in every service a moment later."""
    return keys.issue_key(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.post("/keys/<key_id>/rotate")
@permit("directory.rotate_key")
@blp.arguments(sc.RotateIn)
@blp.response(201, sc.IssuedKey)
def rotate_key(data: dict[str, Any], key_id: str) -> dict[str, Any]:
    """A successor for a key of your subtree (same name, role, unit and scopes), shown
    once; the old key keeps working for ``overlap_days`` (7 by default), so the system
    switches without a gap."""
    return keys.rotate_key(
        service().uow(),
        current_principal(),
        key_id,
        overlap_days=data["overlap_days"],
        correlation_id=g.correlation_id,
    )


@blp.delete("/keys/<key_id>")
@permit("directory.revoke_key")
@blp.response(200, sc.KeyOut)
def revoke_key(key_id: str) -> dict[str, Any]:
    """Revoke a key of your subtree; every service refuses it once told."""
    return keys.revoke_key(
        service().uow(), current_principal(), key_id, correlation_id=g.correlation_id
    )


@blp.post("/divisions/import")
@permit("directory.import_divisions")
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


# --- people ------------------------------------------------------------------------------

HASHER = Hasher()  # argon2id, RFC 9106 low-memory profile


@blp.post("/sessions")
@permit("directory.sign_in")
@blp.arguments(sc.SignInIn)
@blp.response(201, sc.SessionOut)
def sign_in(data: dict[str, Any]) -> dict[str, Any]:
    """Sign in with a log-in name and password (and the second factor's code for the three
    administrator roles): a short-lived access token every service accepts, and a refresh
    token. Repeated failures lock the account for a while, longer each time."""
    credentials = signin.Credentials(data["username"], data["password"], data.get("totp"))
    return signin.sign_in(service().uow(), credentials, hasher=HASHER)


@blp.post("/sessions/refresh")
@permit("directory.refresh")
@blp.arguments(sc.RefreshIn)
@blp.response(200, sc.SessionOut)
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """A new access token and refresh token for a live session (the old refresh token is
    refused from then on); 401 once the session is idle, expired or ended."""
    return signin.refresh(service().uow(), data["refresh_token"])


@blp.delete("/sessions/<session_id>")
@permit("directory.sign_out")
@blp.response(204)
def sign_out(session_id: str) -> None:
    """End one of your sessions."""
    signin.sign_out(service().uow(), current_principal(), session_id)


@blp.get("/me")
@permit("directory.me")
@blp.response(200, sc.MeOut)
def me() -> dict[str, Any]:
    """Who the token or key is, as every service sees it."""
    p = current_principal()
    return {
        "subject": p.key_id,
        "name": p.name,
        "role": p.role,
        "roles": list(p.roles),
        "jurisdiction": p.jurisdiction,
        "agency_id": p.agency_id,
    }


@blp.get("/people")
@permit("directory.list_people")
@blp.arguments(sc.PeopleArgs, location="query")
@blp.response(200, sc.PersonList)
def list_people(args: dict[str, Any]) -> dict[str, Any]:
    """Accounts of your subtree (security administrators)."""
    return people.list_people(service().uow(), current_principal(), args)


@blp.post("/people")
@permit("directory.create_person")
@blp.arguments(sc.PersonIn)
@blp.response(201, sc.CreatedPerson)
def create_person(data: dict[str, Any]) -> dict[str, Any]:
    """An account for a person of a unit in your subtree (security administrators): roles,
    a password that meets the rule (each rule broken is named), and for the administrator
    roles a second factor whose secret is shown once."""
    return people.create_person(
        service().uow(), current_principal(), data, hasher=HASHER, correlation_id=g.correlation_id
    )


@blp.post("/people/<person_id>/disable")
@permit("directory.disable_person")
@blp.response(200, sc.PersonOut)
def disable_person(person_id: str) -> dict[str, Any]:
    """Disable an account: it signs in no more, and its sessions end at their next refresh."""
    return people.set_disabled(
        service().uow(), current_principal(), person_id, True, correlation_id=g.correlation_id
    )


@blp.post("/people/<person_id>/enable")
@permit("directory.enable_person")
@blp.response(200, sc.PersonOut)
def enable_person(person_id: str) -> dict[str, Any]:
    """Enable a disabled account again."""
    return people.set_disabled(
        service().uow(), current_principal(), person_id, False, correlation_id=g.correlation_id
    )


well_known = OnestopBlueprint(
    "well_known", __name__, url_prefix="/.well-known", description="Published keys"
)


@well_known.get("/jwks.json")
@permit("directory.jwks")
@well_known.response(200, sc.JwksOut)
def jwks() -> dict[str, Any]:
    """The public keys access tokens are signed with (a JWK Set): for systems outside the
    platform that verify them; the services get them as events."""
    return signin.public_keys(service().uow())


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(build(settings), title="onestop directory", blueprints=[blp, well_known])
