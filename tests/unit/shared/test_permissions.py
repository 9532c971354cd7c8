"""The permission matrix as data, the ``permit`` decorator that enforces it, and the two
copies that must not drift from it: the services' routes and the README's table."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from flask import Flask, g, request

from shared import permissions
from shared.auth import API_ROLE_OF, ROLES, Principal
from shared.config import SERVICES
from shared.errors import register_error_handlers
from shared.permissions import API_ROLES, MATRIX, SCOPES
from shared.views import permit, require_permission

README = Path(__file__).resolve().parents[3] / "README.md"
BEGIN, END = "<!-- permissions:begin -->", "<!-- permissions:end -->"
INFRA = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs|swagger-ui/|static/)")


# --- the data ---------------------------------------------------------------------------
def test_the_roles_are_the_keys_roles_and_those_a_person_maps_onto():
    assert API_ROLES[:4] == ROLES
    assert {api for _, api in API_ROLE_OF} <= set(API_ROLES)


@pytest.mark.parametrize("row", permissions.ACTIONS, ids=lambda a: a.name)
def test_every_row_is_well_formed(row):
    assert row.service in (*SERVICES, "dead_letters")
    assert row.method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    assert row.path.startswith(f"/{row.service}/" if row.service in SERVICES else "/<svc>/")
    assert set(row.roles) <= set(API_ROLES)
    assert set(row.roles.values()) <= set(SCOPES) - {"public"}
    assert row.credential in (permissions.HEADER, permissions.API_KEY)
    assert row.public or row.roles, "nobody may call it"


def test_actions_are_named_service_dot_view_in_snake_case():
    # as a key's scopes name them (``intake.create_demand``, ``intake.*``)
    for name in MATRIX:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", name), name


def test_actions_are_unique_and_so_are_their_routes():
    assert len(MATRIX) == len(permissions.ACTIONS)
    routes = [(a.method, a.path) for a in permissions.ACTIONS]
    assert len(set(routes)) == len(routes)


def test_every_scope_word_is_used():
    used = {s for a in permissions.ACTIONS for s in a.roles.values()} | {"public"}
    assert used == set(SCOPES)


def test_the_cells_decided_for_the_seeds():
    # CX 第七、二十二、二十四、十七条: the alliance's operator (the city's office) coordinates
    # refusals, reassigns lagging orders (调单) and closes the month; its rules, menu,
    # members and blacklist stay with the managers (理事会商定, 市科技局备案)
    for name in ("coordination", "reassign", "month_close"):
        assert MATRIX[f"dispatch.{name}"].roles == dict.fromkeys(
            ("admin", "district", "staff"), "alliance"
        )
    for name in ("publish_rules", "put_menu", "admit", "pause", "resume", "exit_", "blacklist"):
        assert MATRIX[f"dispatch.{name}"].allowed_roles() == ("admin", "district")
    for name in ("acknowledge", "complete", "refuse"):
        assert MATRIX[f"dispatch.{name}"].roles == {"agency": "own agency"}


def test_the_auditor_reads_the_security_trail_and_verifies_the_chain_only():
    auditor = {a.name: a.roles["auditor"] for a in permissions.ACTIONS if a.allows("auditor")}
    assert auditor == {
        "directory.list_units": "all",
        "directory.get_unit": "all",
        "directory.sign_out": "self",
        "directory.me": "self",
        "directory.change_password": "self",
        "intake.services": "all",
        "archive.events": "trail",
        "archive.export": "trail",
        "archive.verify": "province",
    }


def test_an_enterprise_user_serves_itself_and_reads_the_catalogue_and_the_tree():
    enterprise = {a.name for a in permissions.ACTIONS if a.allows("enterprise")}
    assert enterprise == {
        "directory.list_units",
        "directory.get_unit",
        "directory.sign_out",
        "directory.me",
        "directory.change_password",
        "intake.services",
        # self-service (issue 13): its own enterprises' demands only
        "intake.create_demand",
        "intake.list_demands",
        "intake.demand",
        "intake.revisit",
        "intake.consent",
        "intake.updates",
    }
    assert {permissions.MATRIX[a].roles["enterprise"] for a in enterprise if "intake." in a} == {
        "all",
        "own enterprises",
    }


def test_public_actions_need_no_credential_and_open311_takes_keys_only():
    public = {a.name for a in permissions.ACTIONS if a.public}
    assert public == {
        "directory.sign_in",
        "directory.refresh",
        "directory.sso_login",
        "directory.sso_callback",
        "directory.jwks",
        "intake.service_list",
        "intake.service_definition",
        "intake.list_requests",
        "intake.get_request",
    }
    keyed = {a.name for a in permissions.ACTIONS if a.credential == permissions.API_KEY}
    assert keyed == {"intake.create_request", "intake.list_requests", "intake.get_request"}
    for name in keyed:  # a person has no API key: Open311 knows the systems' roles only
        assert set(MATRIX[name].roles) <= set(ROLES)


def test_the_size_counts_every_cell():
    n = permissions.size()
    assert n["actions"] == len(permissions.ACTIONS) and n["roles"] == 6
    assert n["cells"] == n["actions"] * 6
    cells = [a.cell(r) for a in permissions.ACTIONS for r in API_ROLES]
    assert n["allowed"] == sum(c != "—" for c in cells) and n["allowed"] < n["cells"]


def test_the_refusal_names_the_action_and_its_roles_in_order():
    assert permissions.refusal("dispatch.assignments") == (
        "This call (dispatch.assignments) needs one of the roles: admin, district, staff, agency."
    )
    with pytest.raises(KeyError, match="no row in the permission matrix"):
        permissions.action("intake.nothing")


# --- the decorator -------------------------------------------------------------------------
def app_with_views() -> Flask:
    app = Flask("t")
    register_error_handlers(app, probe=lambda: None)

    @app.before_request
    def sign_in() -> None:
        role = request.headers.get("X-Role")
        if role:
            scopes = tuple(filter(None, request.headers.get("X-Scopes", "").split(",")))
            g.principal = Principal("k", "n", role, "630100", scopes=scopes)

    @app.post("/coordination")
    @permit("dispatch.coordination")
    def coordination():
        return {"ok": True}

    return app


def test_a_role_in_the_row_passes_and_any_other_is_refused_by_name():
    client = app_with_views().test_client()
    for role in ("admin", "district", "staff"):
        assert client.post("/coordination", headers={"X-Role": role}).status_code == 200
    for role in ("agency", "auditor", "enterprise", "none"):
        r = client.post("/coordination", headers={"X-Role": role})
        assert r.status_code == 403
        assert r.get_json()["error"]["code"] == "forbidden"
        assert r.get_json()["error"]["message"] == (
            "This call (dispatch.coordination) needs one of the roles: admin, district, staff."
        )
    assert client.post("/coordination").status_code == 401  # nobody signed in


def test_a_key_with_scopes_calls_only_those_of_its_roles_actions():
    client = app_with_views().test_client()
    for scopes in ("dispatch.*", "intake.*,dispatch.coordination", ""):
        r = client.post("/coordination", headers={"X-Role": "staff", "X-Scopes": scopes})
        assert r.status_code == 200, scopes
    r = client.post("/coordination", headers={"X-Role": "staff", "X-Scopes": "dispatch.reassign"})
    assert r.status_code == 403
    assert r.get_json()["error"]["message"] == (
        "This key's scopes (dispatch.reassign) do not include dispatch.coordination."
    )
    # scopes narrow a role, never widen it
    r = client.post("/coordination", headers={"X-Role": "agency", "X-Scopes": "dispatch.*"})
    assert r.status_code == 403 and "needs one of the roles" in r.get_json()["error"]["message"]
    assert not permissions.within("intake.create_demand", ["dispatch.*", "intake.list_demands"])
    assert permissions.within("dead_letters.redrive", ["dead_letters.*"])


def test_the_view_is_the_actions_and_the_action_has_a_row():
    def log_in():
        return {}

    with pytest.raises(ValueError, match="is on the view log_in, not sign_in"):
        permit("directory.sign_in")(log_in)
    with pytest.raises(KeyError, match=r"intake\.undocumented"):
        permit("intake.undocumented")


def test_a_public_view_is_marked_and_not_checked():
    def sign_in():
        return "hello"

    view = permit("directory.sign_in")(sign_in)
    assert view is sign_in and view.public and view.permission == "directory.sign_in"


def test_a_checked_view_carries_its_action_for_the_route_check():
    def trace():
        return "x"

    view = permit("archive.trace")(trace)
    assert view.permission == "archive.trace" and not getattr(view, "public", False)
    assert view.__doc__ == trace.__doc__ and view.__name__ == "trace"


def test_open311_checks_a_key_against_the_same_row():
    def create_request():
        return "x"

    assert permit("intake.create_request")(create_request) is create_request  # the view checks
    require_permission("intake.create_request", Principal("k", "n", "staff", "630100"))
    with pytest.raises(Exception, match=r"needs one of the roles: admin, district, staff\."):
        require_permission("intake.create_request", Principal("k", "n", "agency", "630100"))


# --- the copies that must not drift ----------------------------------------------------
def routes_of(name: str):
    from onestop.cli import _settings

    app = importlib.import_module(f"services.{name}.app").create_app(_settings())
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        cls = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            handler = getattr(cls, method.lower()) if cls else view
            yield rule.rule, method, getattr(handler, "permission", None)


def test_every_route_of_every_service_is_a_row_and_every_row_a_route():
    seen, outside = set(), []
    for name in SERVICES:
        for rule, method, action in routes_of(name):
            if action is None:
                if not INFRA.match(rule):
                    outside.append(f"{method} /{name}{rule}")
                continue
            row = MATRIX[action]
            path = f"/{name}{rule}".replace("<int:", "<")
            expected = row.path.replace("<svc>", name)
            assert (row.method, expected) == (method, path), action
            seen.add(action)
    assert not outside, f"endpoints without a row in shared/permissions.py: {outside}"
    assert seen == set(MATRIX), f"rows without an endpoint: {set(MATRIX) - seen}"


def test_the_readme_prints_the_matrix():
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "README: the section 'Who may do what' is missing"
    printed = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
    assert printed == permissions.markdown().strip("\n"), (
        "README.md's permission matrix is stale: paste shared.permissions.markdown() "
        "between the permissions markers"
    )
