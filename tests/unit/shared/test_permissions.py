"""The permission matrix as data, the ``permit`` decorator that enforces it, and the two
copies that must not drift from it: the services' routes and the README's table."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from flask import Flask, g, request

from shared import permissions
from shared.auth import API_ROLE_OF, ROLES, Principal, api_role
from shared.config import SERVICES
from shared.contracts.directory import PERSON_ROLES
from shared.errors import register_error_handlers
from shared.permissions import API_ROLES, COLUMNS, MATRIX, SCOPES
from shared.views import permit, require_permission

README = Path(__file__).resolve().parents[3] / "README.md"
BEGIN, END = "<!-- permissions:begin -->", "<!-- permissions:end -->"
INFRA = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs|swagger-ui/|static/)")


# --- the data ---------------------------------------------------------------------------
def test_the_roles_are_the_keys_roles_and_those_a_person_maps_onto():
    assert API_ROLES[:4] == ROLES
    assert {api for _, api in API_ROLE_OF} <= set(API_ROLES)
    assert (*ROLES, *PERSON_ROLES) == COLUMNS
    assert {person for person, _ in API_ROLE_OF} == set(PERSON_ROLES)


@pytest.mark.parametrize("row", permissions.ACTIONS, ids=lambda a: a.name)
def test_every_row_is_well_formed(row):
    assert row.service in (*SERVICES, "dead_letters")
    assert row.method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    assert row.path.startswith(f"/{row.service}/" if row.service in SERVICES else "/<svc>/")
    assert set(row.roles) <= set(COLUMNS)
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
    # — and the station's own staff (服务站) run it all
    for name in ("coordination", "reassign", "month_close"):
        assert MATRIX[f"dispatch.{name}"].roles == dict.fromkeys(
            ("admin", "district", "staff", "sysadmin", "office_staff", "station_staff"),
            "alliance",
        )
    for name in ("publish_rules", "put_menu", "admit", "pause", "resume", "exit_", "blacklist"):
        assert MATRIX[f"dispatch.{name}"].allowed_roles() == (
            "admin",
            "district",
            "sysadmin",
            "station_staff",
        )
    for name in ("acknowledge", "complete", "refuse"):
        assert MATRIX[f"dispatch.{name}"].roles == {
            "agency": "own agency",
            "agency_clerk": "own agency",
        }


def test_three_administrators_kept_apart():
    """三员分立 (GB/T 22239-2019): the security administrator alone manages accounts and
    keys, the system administrator everything else an administrator's key may, the audit
    administrator reads the trail; no row is open to two of them but the self-service."""
    allowed = {
        role: {a.name for a in permissions.ACTIONS if a.allows(role)}
        for role in ("sysadmin", "secadmin", "auditor")
    }
    mine = {a.name for a in permissions.ACTIONS if set(a.roles.values()) == {"self"}}
    mine |= {a.name for a in permissions.ACTIONS if "all" in a.roles.values()}
    assert allowed["secadmin"] - mine == {
        "directory.list_people",
        "directory.create_person",
        "directory.change_roles",
        "directory.disable_person",
        "directory.enable_person",
        "directory.get_person",
        "directory.link_identity",
        "directory.unlink_identity",
        "directory.enterprise_requests",
        "directory.decide_enterprise_request",
        "directory.list_keys",
        "directory.issue_key",
        "directory.revoke_key",
        "directory.rotate_key",
    }
    assert not (allowed["sysadmin"] & allowed["secadmin"]) - mine
    # both read the archive: the system administrator its subtree's record, the audit
    # administrator the security trail (and verifies the chain)
    assert (allowed["sysadmin"] & allowed["auditor"]) - mine == {
        "archive.events",
        "archive.export",
        "archive.verify",
    }
    admin = {
        a.name
        for a in permissions.ACTIONS
        if a.allows("admin") and a.credential == permissions.HEADER  # Open311: keys only
    }
    assert allowed["sysadmin"] | allowed["secadmin"] == admin


def test_a_leader_reads_and_changes_nothing():
    leader = [a for a in permissions.ACTIONS if a.allows("leader")]
    writes = {a.name for a in leader if a.method != "GET"}
    assert writes == {
        "directory.sign_out",
        "directory.change_password",
        "scoring.evaluate",  # a what-if: nothing stored
    }
    for name in ("scoring.kpis", "scoring.rankings", "dispatch.breaches", "visits.compliance_view"):
        assert MATRIX[name].roles["leader"] == "subtree"


def test_a_commissioner_files_demands_and_logs_visits_only():
    commissioner = {a.name for a in permissions.ACTIONS if a.allows("commissioner")}
    assert {"intake.create_demand", "visits.log_visit", "visits.create_plan"} <= commissioner
    # who serves what (dispatch.offers) is read by anyone signed in
    assert {s.split(".")[0] for s in commissioner - {"dispatch.offers"}} == {
        "directory",
        "intake",
        "visits",
    }
    assert not commissioner & {"intake.transitions", "visits.publish_rules", "visits.put_team"}


def test_office_staff_and_clerks_hold_their_keys_cells():
    for a in permissions.ACTIONS:
        if a.credential == permissions.HEADER:
            assert a.cell("office_staff") == a.cell("staff"), a.name
            assert a.cell("agency_clerk") == a.cell("agency"), a.name


def test_the_auditor_reads_the_security_trail_and_verifies_the_chain_only():
    auditor = {a.name: a.roles["auditor"] for a in permissions.ACTIONS if a.allows("auditor")}
    assert auditor == {
        "directory.list_units": "all",
        "directory.get_unit": "all",
        "directory.sign_out": "self",
        "directory.me": "self",
        "directory.change_password": "self",
        "intake.services": "all",
        "dispatch.offers": "all",  # who serves what, like the catalogue
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
        "dispatch.offers",  # 企业点单: the member agencies that serve a category
        # self-service (issue 13): its own enterprises' demands only
        "intake.create_demand",
        "intake.list_demands",
        "intake.demand",
        "intake.revisit",
        "intake.consent",
        "intake.updates",
        # it asks to act for an enterprise, and as its registered contact confirms others
        "directory.request_enterprise",
        "directory.enterprise_requests",
        "directory.decide_enterprise_request",
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
        "directory.register",
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
    assert n["actions"] == len(permissions.ACTIONS) and n["roles"] == 13
    assert n["cells"] == n["actions"] * 13
    cells = [a.cell(r) for a in permissions.ACTIONS for r in COLUMNS]
    assert n["allowed"] == sum(c != "—" for c in cells) and n["allowed"] < n["cells"]


def test_the_refusal_names_the_action_and_its_roles_in_order():
    assert permissions.refusal("dispatch.assignments") == (
        "This call (dispatch.assignments) needs one of the roles: admin, district, staff, "
        "agency, sysadmin, leader, office_staff, station_staff, agency_clerk."
    )
    with pytest.raises(KeyError, match="no row in the permission matrix"):
        permissions.action("intake.nothing")


# --- the decorator -------------------------------------------------------------------------
def app_with_views() -> Flask:
    app = Flask("t")
    register_error_handlers(app, probe=lambda: None)

    @app.before_request
    def sign_in() -> None:
        role, person = request.headers.get("X-Role"), request.headers.get("X-Person-Roles")
        if role:
            scopes = tuple(filter(None, request.headers.get("X-Scopes", "").split(",")))
            g.principal = Principal("k", "n", role, "630100", scopes=scopes)
        elif person:
            roles = tuple(person.split(","))
            g.principal = Principal("person:p", "n", api_role(roles), "630100", roles=roles)

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
            "This call (dispatch.coordination) needs one of the roles: admin, district, staff, "
            "sysadmin, office_staff, station_staff."
        )
    assert client.post("/coordination").status_code == 401  # nobody signed in


def test_a_person_passes_by_any_of_its_roles_never_by_its_api_role():
    client = app_with_views().test_client()
    for roles in ("station_staff", "office_staff", "leader,station_staff"):
        r = client.post("/coordination", headers={"X-Person-Roles": roles})
        assert r.status_code == 200, roles
    # a leader's API role is district's, which the row holds: the leader's own cell decides
    for roles in ("leader", "commissioner", "secadmin", "auditor,enterprise"):
        r = client.post("/coordination", headers={"X-Person-Roles": roles})
        assert r.status_code == 403, roles


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
