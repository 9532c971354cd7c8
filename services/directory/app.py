"""Directory HTTP API: the unit tree (read, open, rename, retire, reopen), API keys, the
import of the official divisions, people's accounts and sessions, and single sign-on with a
province's identity platform."""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, Response, after_this_request, current_app, g, request
from marshmallow import EXCLUDE

from services.directory import (
    build,
    enterprises,
    identities,
    imports,
    keys,
    people,
    signin,
    sso,
    units,
)
from services.directory import schemas as sc
from services.directory.passwords import Hasher
from shared.config import Settings
from shared.errors import ApiError
from shared.views import (
    OnestopBlueprint,
    current_principal,
    file_body,
    permit,
    service,
    uploaded_file,
)
from shared.web import make_app

blp = OnestopBlueprint(
    "directory", __name__, url_prefix="/api/v1", description="Directory (places and keys)"
)


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
@blp.doc(requestBody=file_body("CSV code,name,level,parent (UTF-8), ≤ 20 MiB"))
def import_divisions() -> dict[str, Any]:
    """Bring the tree in line with an official division list (province administrators):
    new units opened, renamed and moved ones changed, missing ones retired with their
    successors; a file with any bad line changes nothing; the same file twice, nothing."""
    upload = uploaded_file("CSV")
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


@blp.post("/me/password")
@permit("directory.change_password")
@blp.arguments(sc.PasswordIn)
@blp.response(200, sc.PersonOut)
def change_password(data: dict[str, Any]) -> dict[str, Any]:
    """Change your own password (定期更换: due after 90 days): the current one, then a new one
    that meets the rule; every broken rule is named."""
    return people.change_password(
        service().uow(), current_principal(), data, hasher=HASHER, correlation_id=g.correlation_id
    )


@blp.put("/people/<person_id>/roles")
@permit("directory.change_roles")
@blp.arguments(sc.RolesIn)
@blp.response(200, sc.CreatedPerson)
def change_roles(data: dict[str, Any], person_id: str) -> dict[str, Any]:
    """Change an account's roles (security administrators; not your own): the three
    administrators stay separate; a new administrator role's second factor is shown once."""
    return people.change_roles(
        service().uow(), current_principal(), person_id, data, correlation_id=g.correlation_id
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


@blp.post("/people/<person_id>/identities")
@permit("directory.link_identity")
@blp.arguments(sc.IdentityIn)
@blp.response(201, sc.PersonWithIdentities)
def link_identity(data: dict[str, Any], person_id: str) -> dict[str, Any]:
    """Link an account of your subtree to who the person is at the identity platform
    (security administrators): single sign-on with that ``subject`` then signs in as the
    account. The platform never creates an account; one subject is one account (409)."""
    platform = _identity_platform()
    return identities.link_identity(
        service().uow(),
        current_principal(),
        person_id,
        data,
        issuer=platform.issuer if platform else None,
        correlation_id=g.correlation_id,
    )


@blp.get("/people/<person_id>")
@permit("directory.get_person")
@blp.response(200, sc.PersonWithIdentities)
def get_person(person_id: str) -> dict[str, Any]:
    """An account of your subtree with the identities linked to it (security
    administrators)."""
    return identities.person_with_identities(service().uow(), current_principal(), person_id)


@blp.delete("/people/<person_id>/identities/<int:identity_id>")
@permit("directory.unlink_identity")
@blp.response(200, sc.PersonWithIdentities)
def unlink_identity(person_id: str, identity_id: int) -> dict[str, Any]:
    """Unlink an identity from an account of your subtree (security administrators):
    single sign-on with it signs in no more."""
    return identities.unlink_identity(
        service().uow(),
        current_principal(),
        person_id,
        identity_id,
        correlation_id=g.correlation_id,
    )


# --- enterprise users and the enterprises they act for -------------------------------------


@blp.post("/registrations")
@permit("directory.register")
@blp.arguments(sc.RegistrationIn)
@blp.response(201, sc.RegistrationOut)
def register(data: dict[str, Any]) -> dict[str, Any]:
    """Open an enterprise account (企业用户注册): a log-in name, a password that meets the
    rule, the unit where the enterprise is registered and its credit code. The account signs
    in at once but acts for the enterprise only once its office, or its registered contact
    on the platform, confirms the request."""
    return enterprises.register(
        service().uow(), data, hasher=HASHER, correlation_id=g.correlation_id
    )


@blp.post("/me/enterprises")
@permit("directory.request_enterprise")
@blp.arguments(sc.EnterpriseRequestIn)
@blp.response(201, sc.EnterpriseRequestOut)
def request_enterprise(data: dict[str, Any]) -> dict[str, Any]:
    """Ask to act for one more enterprise (enterprise users); 409 when asked or bound."""
    return enterprises.request(
        service().uow(), current_principal(), data, correlation_id=g.correlation_id
    )


@blp.get("/enterprise-requests")
@permit("directory.enterprise_requests")
@blp.arguments(sc.EnterpriseRequestArgs, location="query")
@blp.response(200, sc.EnterpriseRequestList)
def enterprise_requests(args: dict[str, Any]) -> dict[str, Any]:
    """Requests to act for an enterprise: those of your subtree's accounts (the office), or
    your own and those for your enterprises (an enterprise user); newest first."""
    return enterprises.requests(service().uow(), current_principal(), args)


@blp.post("/enterprise-requests/<int:request_id>/decision")
@permit("directory.decide_enterprise_request")
@blp.arguments(sc.DecisionIn)
@blp.response(200, sc.EnterpriseRequestOut)
def decide_enterprise_request(data: dict[str, Any], request_id: int) -> dict[str, Any]:
    """Confirm or refuse a request: the office of the account's unit, or the enterprise's
    registered contact (an enterprise user it has already confirmed). A confirmed
    enterprise joins the account: its next token (a refresh) carries it."""
    return enterprises.decide(
        service().uow(), current_principal(), request_id, data, correlation_id=g.correlation_id
    )


# --- single sign-on ----------------------------------------------------------------------

SSO_COOKIE = "onestop_sso_state"  # binds a sign-on under way to the browser that began it
SSO = "directory.sso"  # app.extensions: the IdentityPlatform, or None when not configured


def _identity_platform() -> sso.IdentityPlatform | None:
    return cast(sso.IdentityPlatform | None, current_app.extensions.get(SSO))


def _configured() -> sso.IdentityPlatform:
    platform = _identity_platform()
    if platform is None:
        raise ApiError(404, sso.NOT_CONFIGURED)
    return platform


def _sso_path() -> str:
    return f"{request.script_root}/api/v1/sso"


@blp.get("/sso/login")
@permit("directory.sso_login")
@blp.response(302, description="to the identity platform's sign-in page")
def sso_login() -> Response:
    """Sign in at the province's identity platform (OpenID Connect, authorization code
    with PKCE): a redirect there, and a cookie that binds the sign-in to this browser for
    10 minutes. 404 when single sign-on is not configured."""
    platform = _configured()
    redirect_uri = platform.redirect_uri or f"{request.url_root}api/v1/sso/callback"
    started = sso.start(service().uow(), platform, redirect_uri=redirect_uri)
    answer = Response(status=302, headers={"Location": started.url})
    answer.set_cookie(
        SSO_COOKIE,
        started.state,
        max_age=started.max_age,
        path=_sso_path(),
        secure=redirect_uri.startswith("https:"),
        httponly=True,
        samesite="Lax",  # sent on the platform's top-level redirect back, not on sub-requests
    )
    return answer


@blp.get("/sso/callback")
@permit("directory.sso_callback")
@blp.arguments(sc.SsoCallbackArgs, location="query", unknown=EXCLUDE)
@blp.response(201, sc.SessionOut)
def sso_callback(args: dict[str, Any]) -> dict[str, Any]:
    """Where the identity platform sends the browser back: the session and its tokens, as
    ``POST /sessions`` answers. 401 when the sign-on is unknown, reused, expired or began
    in another browser, when the platform refused it, when its ID token does not hold, when
    no account is linked to the person (the words of a failed log-in), when the account is
    disabled, and for an administrator whose second factor the platform does not vouch
    for (``amr``: mfa or otp)."""
    platform = _configured()
    bound = request.cookies.get(SSO_COOKIE)

    @after_this_request
    def _forget(response: Response) -> Response:
        response.delete_cookie(SSO_COOKIE, path=_sso_path(), httponly=True, samesite="Lax")
        return response

    return sso.finish(service().uow(), platform, sso.Callback(**args), bound_state=bound)


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
    svc = build(settings)
    app = make_app(svc, title="onestop directory", blueprints=[blp, well_known])
    app.extensions[SSO] = sso.IdentityPlatform.from_settings(svc.settings)
    return app
