"""The permission matrix, tried over HTTP (embedded shape): every role on every endpoint.

For every action of ``shared.permissions`` (its routes found in each service's url_map)
and every caller — the demo's four system keys and its nine people, one per person role —
one call with minimal input: a role outside the row gets a 403 naming the action and the
roles it needs; a role inside never gets that refusal (it may get a 403 for its scope, a
404, a 409 or a 422). Every route of every service has a row. And the cells this matrix
changed, end to end: the city's office coordinates its own alliance; the auditor reads the
security trail and verifies the chain, nothing else of the archive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from onestop import migrate
from onestop.embedded import Platform
from onestop.seed import seed_demo, wait_for_copies
from services.directory import totp
from shared import permissions
from shared.config import load_settings
from shared.contracts.directory import PERSON_ROLES
from tests.factories import DEMO_DEMAND
from tests.support import reset_in_process_broker, wait_for

pytestmark = pytest.mark.e2e

INFRA = re.compile(
    r"^/(healthz|readyz|metrics|openapi\.json|docs|swagger-ui/|static/|\.well-known/)"
)
PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
ENT = DEMO_DEMAND["enterprise"]["credit_code"]  # 630102
IP_DEMAND = {**DEMO_DEMAND, "category": "ip", "service_item": "ip_filing"}
# (role, demo log-in) of the signed-in callers, one per person role; the system keys are
# creds[<role>]
PEOPLE = (
    ("sysadmin", "sys.admin"),
    ("secadmin", "sec.admin"),
    ("auditor", "audit.admin"),
    ("leader", "leader.xn"),
    ("office_staff", "chen.jing"),
    ("station_staff", "station.cd"),
    ("commissioner", "tepai.li"),
    ("agency_clerk", "clerk.pat"),
    ("enterprise", "qiye.gaoyuan"),
)


@dataclass(frozen=True)
class Caller:
    label: str
    role: str
    token: str
    api_key: str | None = None  # a system's key (Open311 takes keys only)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    platform: Any
    client: Client
    callers: list[Caller]
    fills: dict[str, str]  # path parameter → a plausible demo value


def sign_in(c: Client, person: str, creds: dict[str, Any]) -> str:
    body = {"username": person, "password": creds["password"]}
    if creds.get("second_factor_secret"):
        body["totp"] = totp.code_at(creds["second_factor_secret"], datetime.now(UTC))
    r = c.post("/directory/api/v1/sessions", json=body)
    assert r.status_code == 201, (person, r.get_json())
    return str(r.get_json()["access_token"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One platform for the module: migrated, seeded with the demo, started; a demand of
    the demo enterprise and its owner's assignment to fill paths with."""
    tmp: Path = tmp_path_factory.mktemp("permissions")
    reset_in_process_broker()
    settings = load_settings(
        {
            "ONESTOP_DATA_DIR": str(tmp / "var"),
            "ONESTOP_BROKER_URL": f"memory://localhost/{tmp.name}",
            "ONESTOP_SWEEP_INTERVAL": "0.2",
            "ONESTOP_RETRY_BACKOFF": "0.01",
            "ONESTOP_MAX_ATTEMPTS": "3",
            "ONESTOP_CREDENTIAL_CACHE": "1",
        }
    )
    migrate.upgrade(settings)
    creds = seed_demo(settings)
    p: Any = Platform(settings)
    p.start()
    try:
        wait_for_copies(settings, creds)
        p.creds = creds
        c = Client(p.wsgi)
        callers = [
            Caller(f"{role} key", role, creds[role]["key"], creds[role]["key"])
            for role in ("admin", "district", "staff", "agency")
        ]
        callers += [
            Caller(person, role, sign_in(c, person, creds["people"][person]))
            for role, person in PEOPLE
        ]
        district = callers[1].headers
        r = c.post("/intake/api/v1/demands", json=DEMO_DEMAND, headers=district)
        assert r.status_code == 201, r.get_json()
        code = r.get_json()["code"]
        owner = wait_for(
            lambda: c.get(
                f"/dispatch/api/v1/assignments?demand_code={code}", headers=district
            ).get_json()["items"]
        )[0]
        fills = {
            "code": code,  # a demand (intake, archive); a unit's code for the directory
            "unit": "630102",
            "credit_code": ENT,
            "jurisdiction": "630102",
            "fmt": "json",
            "assignment_id": owner["id"],
            "agency_id": "ag-pat-1",
            "city": "630100",
            "item": "ip_filing",
            "dept_id": "cd-kjj",
            "staff_id": "staff-005",
            # no such records: a write that gets past the role check changes nothing
            "key_id": "0000deadbeef",
            "session_id": "no-such-session",
            "person_id": "no.such.person",
            "visit_id": "00000000-0000-0000-0000-000000000000",
            "plan_id": "00000000-0000-0000-0000-000000000000",
            "record_id": "00000000-0000-0000-0000-000000000000",
            "team_id": "no-such-team",
            "station_id": "630102-S0001",
            "letter_id": "999999",
            "request_id": "999999",
            "identity_id": "999999",
            "expert_id": "no-such-expert",
            "cotask_id": "00000000-0000-0000-0000-000000000000",
            "delivery_id": "999999",
            "kind": "progress",
        }
        yield World(p, c, callers, fills)
    finally:
        p.stop()


def routes(platform: Any) -> Iterator[tuple[str, str, str, Any]]:
    """``(prefix, rule, method, handler)`` of every route of every service."""
    for prefix, app in platform.apps.items():
        for rule in app.url_map.iter_rules():
            view = app.view_functions[rule.endpoint]
            cls = getattr(view, "view_class", None)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield prefix, rule.rule, method, getattr(cls, method.lower()) if cls else view


def test_every_route_of_every_service_has_a_row(world: World) -> None:
    missing, seen = [], set()
    for prefix, rule, method, handler in routes(world.platform):
        name = getattr(handler, "permission", None)
        if name is None and INFRA.match(rule):
            continue  # the app's own: probes, metrics, the documents (the keys have a row)
        if name not in permissions.MATRIX:
            missing.append(f"{method} {prefix}{rule}")
            continue
        row = permissions.MATRIX[name]
        assert row.method == method, (name, method)
        seen.add(name)
    assert not missing, f"endpoints outside the permission matrix: {missing}"
    assert seen == set(permissions.MATRIX), set(permissions.MATRIX) - seen


def refusal_of(r: Any) -> str | None:
    """The message of a 403 in either error format (the platform's, Open311's)."""
    if r.status_code != 403:
        return None
    body = r.get_json(silent=True)
    if isinstance(body, list):  # Open311: [{"code", "description"}]
        return str(body[0]["description"])
    return str(body["error"]["message"])


def not_authenticated(r: Any) -> bool:
    """A 401 for the credential itself (not a use case's own 401, e.g. another's session)."""
    if r.status_code != 401:
        return False
    message = str(r.get_json()["error"]["message"])
    return message.startswith(("Send an access token", "The access token", "The API key"))


def call(world: World, row: permissions.Action, url: str, caller: Caller | None) -> Any:
    """One call with minimal input: an empty body, no query; ``caller`` None: anonymous."""
    c = world.client
    if row.credential == permissions.API_KEY:  # Open311: the key is a parameter
        given = {"api_key": caller.api_key} if caller is not None else {}
        if row.method == "GET":
            return c.get(url, query_string=given)
        return c.open(url, method=row.method, data=given)
    headers = caller.headers if caller is not None else {}
    if row.method in ("GET", "DELETE"):
        return c.open(url, method=row.method, headers=headers)
    return c.open(url, method=row.method, json={}, headers=headers)


def urls_of(world: World, name: str) -> list[str]:
    found = []
    for prefix, rule, _method, handler in routes(world.platform):
        if getattr(handler, "permission", None) != name:
            continue
        fills = (
            dict(world.fills, code=world.fills["unit"]) if prefix == "/directory" else world.fills
        )
        found.append(prefix + PLACEHOLDER.sub(lambda m, f=fills: f[m.group(1)], rule))
    return found


@pytest.mark.parametrize("name", list(permissions.MATRIX))
def test_every_role_on_the_endpoint(world: World, name: str) -> None:
    row = permissions.action(name)
    urls = urls_of(world, name)
    assert urls, f"{name}: no route"
    wrong = []
    for url in urls:
        for caller in world.callers:
            if row.credential == permissions.API_KEY and caller.api_key is None:
                if not row.public:
                    continue  # a person holds no API key: Open311 does not know them
                caller_ = None  # a public Open311 read, asked anonymously
            else:
                caller_ = caller
            r = call(world, row, url, caller_)
            refused = refusal_of(r)
            role_refusal = refused is not None and refused.startswith(f"This call ({name})")
            # a public view ignores the Authorization header; Open311 checks a key given
            ignored = row.public and (caller_ is None or row.credential == permissions.HEADER)
            if ignored or row.allows(caller.role):
                if role_refusal or r.status_code == 500 or not_authenticated(r):
                    wrong.append(f"{caller.label}: {r.status_code} {refused or ''}")
            elif refused != permissions.refusal(name):
                wrong.append(f"{caller.label}: expected the role refusal, got {r.status_code}")
    assert not wrong, f"{name} {row.method} {urls[0]}: {wrong}"


def test_every_person_role_is_tried() -> None:
    assert tuple(role for role, _ in PEOPLE) == PERSON_ROLES
    assert (*("admin", "district", "staff", "agency"), *PERSON_ROLES) == permissions.COLUMNS


def test_the_refusal_names_the_action_and_the_roles(world: World) -> None:
    auditor = next(c for c in world.callers if c.role == "auditor")
    r = world.client.get("/intake/api/v1/demands", headers=auditor.headers)
    assert r.status_code == 403
    assert r.get_json()["error"] == {
        "status": 403,
        "code": "forbidden",
        "message": "This call (intake.list_demands) needs one of the roles: "
        "admin, district, staff, sysadmin, leader, office_staff, station_staff, commissioner, "
        "enterprise.",
        "correlation_id": r.headers["X-Correlation-ID"],
    }


def test_the_city_office_coordinates_its_own_alliance(world: World) -> None:
    """CX: the station's operator coordinates a refusal (第七、二十二条) and reassigns
    (第二十四条): the demo city key (staff of 630100) now may; the district key of
    630102 holds the role but the city's alliance is not in its subtree (its scope)."""
    c, by = world.client, {k.label: k for k in world.callers}
    district, staff, agency = (by[f"{r} key"].headers for r in ("district", "staff", "agency"))
    r = c.post(
        "/intake/api/v1/demands", json={**IP_DEMAND, "ordered_agency": "ag-pat-1"}, headers=district
    )
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    order = wait_for(
        lambda: c.get(
            f"/dispatch/api/v1/assignments?demand_code={code}&kind=agency", headers=staff
        ).get_json()["items"]
    )[0]
    assert order["assignee_id"] == "ag-pat-1" and order["city"] == "630100"
    url = f"/dispatch/api/v1/assignments/{order['id']}"
    r = c.post(f"{url}/refuse", json={"reason": "人手不足"}, headers=agency)
    assert r.status_code == 200 and r.get_json()["status"] == "refused"
    body = {"outcome": "complied", "note": "协调后接单"}
    r = c.post(f"{url}/coordination", json=body, headers=district)
    assert r.status_code == 403 and "630100's alliance" in r.get_json()["error"]["message"]
    r = c.post(f"{url}/coordination", json=body, headers=staff)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "acknowledged"  # the agency takes it after all
    # 调单 needs an overdue order with a complaint: the operator gets that answer, not a 403
    r = c.post(f"{url}/reassign", json={"note": "进度滞后"}, headers=staff)
    assert r.status_code == 409, r.get_json()
    last_month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    r = c.post(
        "/dispatch/api/v1/alliances/630100/month-close", json={"month": last_month}, headers=staff
    )
    assert r.status_code in (200, 409), r.get_json()


def test_the_auditor_reads_the_security_trail_and_verifies_the_chain(world: World) -> None:
    c, by = world.client, {k.label: k for k in world.callers}
    auditor, admin = by["audit.admin"].headers, by["admin key"].headers
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }

    def trail(**only: str) -> list[dict[str, Any]]:
        query = {**window, "limit": 1000, **only}
        r = c.get("/archive/api/v1/events", query_string=query, headers=auditor)
        assert r.status_code == 200, r.get_json()
        items: list[dict[str, Any]] = r.get_json()["items"]
        return items

    # the sign-ins are in the trail (among far more refusals than one page holds) ...
    assert wait_for(lambda: trail(type="person.signed_in"))
    # ... and the trail holds security events only
    types = {e["event_type"] for e in trail()}
    assert {t.split(".")[0] for t in types} <= {
        "person",
        "apikey",
        "signing_key",
        "access",
        "dead_letter",
    }
    # the administrator's search of the same window holds the business events too
    r = c.get(
        "/archive/api/v1/events", query_string={**window, "type": "demand.accepted"}, headers=admin
    )
    assert r.get_json()["items"]
    r = c.get(
        "/archive/api/v1/events",
        query_string={**window, "type": "demand.accepted"},
        headers=auditor,
    )
    assert r.status_code == 200 and r.get_json()["items"] == []
    r = c.get("/archive/api/v1/verify", headers=auditor)
    assert r.status_code == 200 and r.get_json()["ok"] is True
    assert c.get(f"/archive/api/v1/trace/{world.fills['code']}", headers=auditor).status_code == 403
