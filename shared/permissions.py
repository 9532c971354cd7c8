"""Who may do what: the permission matrix (API role × action × scope) as data.

An action is one endpoint and method, named ``<service>.<view>`` after the view that
serves it (``intake.create_demand``, ``dispatch.coordination``; the dead-letter views
every service has are ``dead_letters.<view>``). Each row says which roles may call it and
with which scope. The columns (``COLUMNS``) are the four roles of a system's key (admin,
district, staff, agency: ``shared.auth.ROLES``) and the nine roles of a person
(``shared.contracts.directory.PERSON_ROLES``).

A row is written with the API roles (the keys' four, auditor and enterprise); the person
roles' cells follow from them by one rule (``person_cells``), which a row may override by
naming a person role itself:

* the system administrator (系统管理员) holds an administrator key's cells except the
  accounts and the keys, which are the security administrator's (安全管理员) only, and the
  audit administrator (审计管理员) reads the trail — 三员分立;
* office staff hold a staff key's cells, an agency clerk an agency key's;
* a leader (领导) reads what a district's key reads and tries the scoring rules out
  (``scoring.evaluate``), and changes nothing;
* station staff (服务站) hold a staff key's cells and run their alliance: every row with
  an ``alliance`` scope;
* an S&T commissioner (科技特派员) files and follows demands, logs visits and keeps plans
  (``COMMISSIONER``).

A person holding several roles may call what any of them may. ``shared.views.permit``
enforces the row on its view (a role outside the row is a 403 naming the action and the
roles it needs); the scope is enforced by the use cases (subtrees, the agency's own
orders, a province's administrators), which know a person by its API role
(``shared.auth.api_role``), and the matrix documents it. A system key issued with scopes
(``intake.*``, ``dispatch.progress``) calls only those of its role's actions (``within``).
The README prints ``markdown()``; a test fails when the README, or any service's routes,
differ from this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.auth import ROLES as KEY_ROLES
from shared.auth import Principal
from shared.contracts.directory import PERSON_ROLES

API_ROLES = (*KEY_ROLES, "auditor", "enterprise")  # how the use cases know a caller
COLUMNS = (*KEY_ROLES, *PERSON_ROLES)  # the matrix's roles: a key's, then a person's

# The scope words the README prints, and what each means.
SCOPES: dict[str, str] = {
    "all": "any unit: the role is enough",
    "self": "the caller's own identity and sessions",
    "subtree": "the caller's unit and the units below it",
    "path": "the caller's subtree and the units above it (the rules it inherits)",
    "alliance": "an alliance (dispatch's `<city>`: the unit that runs the station, at any "
    "level) of the caller's subtree",
    "own agency": "the agency's own record and the orders made to it",
    "own enterprises": "the demands of the enterprises bound to an enterprise user's account",
    "province": "a province's administrators (or auditors): a role bound to a province's code",
    "accounts": "accounts of the caller's subtree, for a security administrator or an "
    "administrator's API key (a system administrator manages none: 三员分立)",
    "trail": "the security trail of the caller's subtree only: `person.*`, `apikey.*`, "
    "`signing_key.*`, `access.*` and `dead_letter.*` events",
    "own key": "the callback of the caller's own key and the deliveries to it (the status "
    "changes of the demands that key filed)",
    "public": "anyone, without a credential",
    "lead": "the office of a complex demand's lead owner: its department's unit or one above "
    "it (a person who is staff of the map, without a manager's role: their own department)",
    "co-handler": "a department's co-task: that department's office (as for `lead`); an "
    "expert's or an institute's: the lead owner's office, which records it",
}

# How the credential reaches the view: the Authorization header (checked by
# ``shared.views.permit``), or Open311's ``api_key`` parameter (a system's key, checked by
# the Open311 view against the same row).
HEADER, API_KEY = "header", "api_key"


@dataclass(frozen=True)
class Action:
    """One endpoint and method: who may call it (API role → scope)."""

    name: str
    method: str
    path: str  # as the gateway serves it; ``<svc>`` for the views every service has
    roles: Mapping[str, str] = field(default_factory=dict)
    public: bool = False  # callable without any credential (a credential given is checked)
    credential: str = HEADER

    def __post_init__(self) -> None:
        derived = person_cells(self.name, self.method, self.roles)
        if self.credential == API_KEY:  # Open311 takes a system's key only
            derived = {}
        roles = {**derived, **self.roles}
        object.__setattr__(self, "roles", MappingProxyType(roles))

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def view(self) -> str:
        return self.name.split(".", 1)[1]

    def allows(self, role: str) -> bool:
        return role in self.roles

    def admits(self, principal: Principal) -> bool:
        """Whether ``principal`` may call it: a key by its role, a person by any of its."""
        if principal.is_person:
            return any(r in self.roles for r in principal.roles)
        return principal.role in self.roles

    def allowed_roles(self) -> tuple[str, ...]:
        return tuple(r for r in COLUMNS if r in self.roles)

    def cell(self, role: str) -> str:
        """What the README prints for ``role``: its scope, ``public``, or a dash."""
        if role in self.roles:
            return self.roles[role]
        return "public" if self.public else "—"


def _each(scope: str, *roles: str) -> dict[str, str]:
    return dict.fromkeys(roles, scope)


OFFICE = ("admin", "district", "staff")  # the handling parties of a demand
MANAGERS = ("admin", "district")
EVERYONE = API_ROLES
OFFICE_SUBTREE = _each("subtree", *OFFICE)
MANAGERS_SUBTREE = _each("subtree", *MANAGERS)
ORDERS = {**OFFICE_SUBTREE, "agency": "own agency"}  # agency orders and members
OWN_KEY = _each("own key", *OFFICE)  # a system's callback: whoever files demands
ARCHIVE_SEARCH = {**OFFICE_SUBTREE, "auditor": "trail"}
# an enterprise user files, follows, rates and consents for its own enterprises only
SELF_SERVICE = {**OFFICE_SUBTREE, "enterprise": "own enterprises"}
# an enterprise user's request to act for an enterprise: decided by the office of the
# account's unit (an account manager, or staff) or the enterprise's registered contact
ENTERPRISE_REQUESTS = {
    "admin": "accounts",
    **_each("subtree", "district", "staff"),
    "enterprise": "own enterprises",
}


# the security administrator's rows besides the accounts: the systems' keys
SECURITY = frozenset(
    f"directory.{v}" for v in ("list_keys", "issue_key", "revoke_key", "rotate_key")
)
# what an S&T commissioner does of a staff key's: files and follows demands on the
# enterprises it serves, logs its visits and keeps its plans
COMMISSIONER = frozenset(
    (
        *(
            f"intake.{v}"
            for v in (
                "create_demand",
                "list_demands",
                "demand",
                "updates",
                "list_enterprises",
                "get_enterprise",
            )
        ),
        *(
            f"visits.{v}"
            for v in (
                "log_visit",
                "list_visits",
                "get_visit",
                "revise_visit",
                "visit_versions",
                "service_ledger",
                "get_rules",
                "create_plan",
                "list_plans",
                "plan_done",
                "plan_missed",
                "plan_cancel",
                "links",
            )
        ),
    )
)
LEADER_WRITES = frozenset({"scoring.evaluate"})  # a what-if: nothing is stored


def person_cells(name: str, method: str, roles: Mapping[str, str]) -> dict[str, str]:
    """The person roles' cells of a row written with the API roles ``roles`` (the rule in
    the module's docstring)."""
    everyone = set(API_ROLES) <= set(roles)
    cells: dict[str, str] = {}
    if "admin" in roles:
        security = roles["admin"] == "accounts" or name in SECURITY
        if everyone or security:
            cells["secadmin"] = roles["admin"]
        if everyone or not security:
            cells["sysadmin"] = roles["admin"]
    for person, key in (("office_staff", "staff"), ("agency_clerk", "agency")):
        if key in roles:
            cells[person] = roles[key]
    if "district" in roles and (everyone or method == "GET" or name in LEADER_WRITES):
        cells["leader"] = roles["district"]
    if "staff" in roles:
        cells["station_staff"] = roles["staff"]
    if "alliance" in roles.values():
        cells["station_staff"] = "alliance"
    if "staff" in roles and (everyone or name in COMMISSIONER):
        cells["commissioner"] = roles["staff"]
    return cells


def _rows(service: str, prefix: str, *rows: tuple[str, str, str, dict[str, str]]) -> list[Action]:
    return [
        Action(f"{service}.{view}", method, f"/{service}{prefix}{path}", roles)
        for view, method, path, roles in rows
    ]


def _public(
    service: str,
    view: str,
    method: str,
    path: str,
    roles: Mapping[str, str] | None = None,
    credential: str = HEADER,
) -> Action:
    """A view anyone may call; ``roles`` are those whose credential, when given, it takes."""
    return Action(f"{service}.{view}", method, f"/{service}{path}", roles or {}, True, credential)


API = "/api/v1"
O311 = "/open311/v2"

ACTIONS: tuple[Action, ...] = (
    # --- directory: places, keys and people -------------------------------------------
    *_rows(
        "directory",
        API,
        ("list_units", "GET", "/units", _each("all", *EVERYONE)),
        ("open_unit", "POST", "/units", _each("subtree", "admin")),
        ("get_unit", "GET", "/units/<code>", _each("all", *EVERYONE)),
        ("change_unit", "PATCH", "/units/<code>", _each("subtree", "admin")),
        ("list_keys", "GET", "/keys", _each("subtree", "admin")),
        ("issue_key", "POST", "/keys", _each("subtree", "admin")),
        ("revoke_key", "DELETE", "/keys/<key_id>", _each("subtree", "admin")),
        ("rotate_key", "POST", "/keys/<key_id>/rotate", _each("subtree", "admin")),
        ("import_divisions", "POST", "/divisions/import", _each("province", "admin")),
    ),
    _public("directory", "sign_in", "POST", f"{API}/sessions"),
    _public("directory", "refresh", "POST", f"{API}/sessions/refresh"),
    *_rows(
        "directory",
        API,
        ("sign_out", "DELETE", "/sessions/<session_id>", _each("self", *EVERYONE)),
        ("me", "GET", "/me", _each("self", *EVERYONE)),
        ("list_people", "GET", "/people", _each("accounts", "admin")),
        ("create_person", "POST", "/people", _each("accounts", "admin")),
        ("change_password", "POST", "/me/password", _each("self", *EVERYONE)),
        ("change_roles", "PUT", "/people/<person_id>/roles", _each("accounts", "admin")),
        ("disable_person", "POST", "/people/<person_id>/disable", _each("accounts", "admin")),
        ("enable_person", "POST", "/people/<person_id>/enable", _each("accounts", "admin")),
        ("get_person", "GET", "/people/<person_id>", _each("accounts", "admin")),
        ("link_identity", "POST", "/people/<person_id>/identities", _each("accounts", "admin")),
        (
            "unlink_identity",
            "DELETE",
            "/people/<person_id>/identities/<identity_id>",
            _each("accounts", "admin"),
        ),
    ),
    # an enterprise opens its account; its office or registered contact confirms it
    _public("directory", "register", "POST", f"{API}/registrations"),
    *_rows(
        "directory",
        API,
        ("request_enterprise", "POST", "/me/enterprises", _each("self", "enterprise")),
        ("enterprise_requests", "GET", "/enterprise-requests", ENTERPRISE_REQUESTS),
        (
            "decide_enterprise_request",
            "POST",
            "/enterprise-requests/<request_id>/decision",
            ENTERPRISE_REQUESTS,
        ),
    ),
    _public("directory", "sso_login", "GET", f"{API}/sso/login"),
    _public("directory", "sso_callback", "GET", f"{API}/sso/callback"),
    _public("directory", "jwks", "GET", "/.well-known/jwks.json"),
    # --- intake: demands, enterprises, time limits, Open311 ---------------------------
    *_rows(
        "intake",
        API,
        ("services", "GET", "/services", _each("all", *EVERYONE)),
        ("create_demand", "POST", "/demands", SELF_SERVICE),
        ("list_demands", "GET", "/demands", SELF_SERVICE),
        ("import_demands", "POST", "/demands/import", OFFICE_SUBTREE),
        ("demand", "GET", "/demands/<code>", SELF_SERVICE),
        ("transitions", "POST", "/demands/<code>/transitions", OFFICE_SUBTREE),
        ("screening", "PATCH", "/demands/<code>/screening", OFFICE_SUBTREE),
        ("revisit", "POST", "/demands/<code>/revisit", SELF_SERVICE),
        ("consent", "PUT", "/demands/<code>/consent", SELF_SERVICE),
        ("updates", "GET", "/demands/<code>/updates", SELF_SERVICE),
        ("register_enterprise", "POST", "/enterprises", OFFICE_SUBTREE),
        ("list_enterprises", "GET", "/enterprises", OFFICE_SUBTREE),
        ("get_enterprise", "GET", "/enterprises/<credit_code>", OFFICE_SUBTREE),
        ("update_enterprise", "PATCH", "/enterprises/<credit_code>", OFFICE_SUBTREE),
        ("import_enterprises", "POST", "/enterprises/import", OFFICE_SUBTREE),
        ("get_time_limits", "GET", "/time-limits/<jurisdiction>", OFFICE_SUBTREE),
        ("daily_board", "GET", "/board/<jurisdiction>", OFFICE_SUBTREE),
        ("set_time_limits", "PUT", "/time-limits/<jurisdiction>", _each("subtree", "admin")),
        ("register_callback", "PUT", "/callback", OWN_KEY),
        ("get_callback", "GET", "/callback", OWN_KEY),
        ("remove_callback", "DELETE", "/callback", OWN_KEY),
        ("callback_deliveries", "GET", "/callback/deliveries", OWN_KEY),
        ("resend_delivery", "POST", "/callback/deliveries/<delivery_id>/resend", OWN_KEY),
    ),
    _public("intake", "service_list", "GET", f"{O311}/services.<fmt>"),
    _public("intake", "service_definition", "GET", f"{O311}/services/<code>.<fmt>"),
    Action(
        "intake.create_request",
        "POST",
        f"/intake{O311}/requests.<fmt>",
        OFFICE_SUBTREE,
        credential=API_KEY,
    ),
    _public(
        "intake",
        "list_requests",
        "GET",
        f"{O311}/requests.<fmt>",
        roles=OFFICE_SUBTREE,
        credential=API_KEY,
    ),
    _public(
        "intake",
        "get_request",
        "GET",
        f"{O311}/requests/<code>.<fmt>",
        roles=OFFICE_SUBTREE,
        credential=API_KEY,
    ),
    # --- dispatch: agency orders, the responsibility map, the alliance ------------------
    *_rows(
        "dispatch",
        API,
        ("assignments", "GET", "/assignments", ORDERS),
        ("assignment", "GET", "/assignments/<assignment_id>", ORDERS),
        ("progress", "POST", "/assignments/<assignment_id>/progress", ORDERS),
        (
            "acknowledge",
            "POST",
            "/assignments/<assignment_id>/acknowledge",
            _each("own agency", "agency"),
        ),
        (
            "complete",
            "POST",
            "/assignments/<assignment_id>/complete",
            _each("own agency", "agency"),
        ),
        ("refuse", "POST", "/assignments/<assignment_id>/refuse", _each("own agency", "agency")),
        # the alliance's operator coordinates refusals and reassigns (CX 第七、二十二、二十四条)
        (
            "coordination",
            "POST",
            "/assignments/<assignment_id>/coordination",
            _each("alliance", *OFFICE),
        ),
        ("complaint", "POST", "/assignments/<assignment_id>/complaints", OFFICE_SUBTREE),
        ("reassign", "POST", "/assignments/<assignment_id>/reassign", _each("alliance", *OFFICE)),
        ("decisions", "GET", "/decisions", OFFICE_SUBTREE),
        ("breaches", "GET", "/breaches", OFFICE_SUBTREE),
        ("departments", "GET", "/departments", OFFICE_SUBTREE),
        ("put_department", "PUT", "/departments/<dept_id>", MANAGERS_SUBTREE),
        ("staff", "GET", "/staff", OFFICE_SUBTREE),
        ("put_staff", "PUT", "/staff/<staff_id>", MANAGERS_SUBTREE),
        ("enterprise", "GET", "/enterprises/<credit_code>", OFFICE_SUBTREE),
        ("named_owner", "PUT", "/enterprises/<credit_code>/named-owner", MANAGERS_SUBTREE),
        ("blacklist", "POST", "/enterprises/<credit_code>/blacklist", _each("alliance", *MANAGERS)),
        ("agency_list", "GET", "/agencies", ORDERS),
        ("admit", "POST", "/agencies", _each("alliance", *MANAGERS)),
        ("agency", "GET", "/agencies/<agency_id>", ORDERS),
        ("rank_basis", "PUT", "/agencies/<agency_id>/rank-basis", _each("alliance", *MANAGERS)),
        ("pause", "POST", "/agencies/<agency_id>/pause", _each("alliance", *MANAGERS)),
        ("resume", "POST", "/agencies/<agency_id>/resume", _each("alliance", *MANAGERS)),
        ("exit_", "POST", "/agencies/<agency_id>/exit", _each("alliance", *MANAGERS)),
        ("rules", "GET", "/alliances/<city>/rules", _each("path", *OFFICE)),
        ("publish_rules", "PUT", "/alliances/<city>/rules", _each("alliance", *MANAGERS)),
        ("menu", "GET", "/alliances/<city>/menu", _each("path", *OFFICE, "agency")),
        # who serves what (企业点单): any signed-in person reads names, categories, pauses
        ("offers", "GET", "/alliances/<city>/offers", _each("all", *EVERYONE)),
        ("put_menu", "PUT", "/alliances/<city>/menu/<item>", _each("alliance", *MANAGERS)),
        # the operator closes the month's tallies (CX 第十七条: 全市服务站月度累计数据)
        ("month_close", "POST", "/alliances/<city>/month-close", _each("alliance", *OFFICE)),
        # co-handling a complex demand (XN 联合处置): the expert pool, co-handlers, feedback
        ("expert_pool", "GET", "/experts", OFFICE_SUBTREE),
        ("expert", "GET", "/experts/<expert_id>", OFFICE_SUBTREE),
        ("put_expert", "PUT", "/experts/<expert_id>", MANAGERS_SUBTREE),
        ("cohandlers", "GET", "/demands/<code>/co-handlers", OFFICE_SUBTREE),
        ("add_cohandler", "POST", "/demands/<code>/co-handlers", _each("lead", *OFFICE)),
        (
            "cohandler_feedback",
            "POST",
            "/demands/<code>/co-handlers/<cotask_id>/feedback",
            _each("co-handler", *OFFICE),
        ),
        # standing 包保 links (XN 固定包保责任区域; XM 挂钩联系; SX 专人包保)
        ("responsibility_map", "GET", "/responsibility-map", OFFICE_SUBTREE),
        ("enterprise_owner", "GET", "/enterprises/<credit_code>/owner", OFFICE_SUBTREE),
        ("put_enterprise_owner", "PUT", "/enterprises/<credit_code>/owner", MANAGERS_SUBTREE),
        ("transfer", "POST", "/staff/<staff_id>/transfer", MANAGERS_SUBTREE),
    ),
    # --- visits: the visit log, plans, frequency rules, teams and stations --------------
    *_rows(
        "visits",
        API,
        ("log_visit", "POST", "/visits", OFFICE_SUBTREE),
        ("list_visits", "GET", "/visits", OFFICE_SUBTREE),
        ("get_visit", "GET", "/visits/<visit_id>", OFFICE_SUBTREE),
        ("revise_visit", "PUT", "/visits/<visit_id>", OFFICE_SUBTREE),
        ("visit_versions", "GET", "/visits/<visit_id>/versions", OFFICE_SUBTREE),
        ("service_ledger", "GET", "/ledger", OFFICE_SUBTREE),
        ("team_report", "GET", "/reports/visits", OFFICE_SUBTREE),
        ("compliance_view", "GET", "/compliance", OFFICE_SUBTREE),
        ("get_rules", "GET", "/frequency-rules/<jurisdiction>", _each("path", *OFFICE)),
        ("publish_rules", "PUT", "/frequency-rules/<jurisdiction>", MANAGERS_SUBTREE),
        ("list_teams", "GET", "/teams", OFFICE_SUBTREE),
        ("put_team", "PUT", "/teams/<team_id>", MANAGERS_SUBTREE),
        ("put_station", "PUT", "/stations/<station_id>", MANAGERS_SUBTREE),
        ("record_duty", "POST", "/stations/<station_id>/duty", OFFICE_SUBTREE),
        ("create_plan", "POST", "/plans", OFFICE_SUBTREE),
        ("list_plans", "GET", "/plans", OFFICE_SUBTREE),
        ("plan_done", "POST", "/plans/<plan_id>/done", OFFICE_SUBTREE),
        ("plan_missed", "POST", "/plans/<plan_id>/missed", OFFICE_SUBTREE),
        ("plan_cancel", "POST", "/plans/<plan_id>/cancel", OFFICE_SUBTREE),
        ("links", "GET", "/links", OFFICE_SUBTREE),
    ),
    # --- scoring: table A.1 ------------------------------------------------------------
    *_rows(
        "scoring",
        API,
        ("tallies", "GET", "/tallies", OFFICE_SUBTREE),
        ("scorecard", "GET", "/scorecards", OFFICE_SUBTREE),
        ("item_records", "GET", "/scorecards/records", OFFICE_SUBTREE),
        ("rankings", "GET", "/rankings", OFFICE_SUBTREE),
        ("evaluate", "POST", "/evaluate", OFFICE_SUBTREE),
        ("enter_record", "POST", "/records", MANAGERS_SUBTREE),
        ("list_records", "GET", "/records", OFFICE_SUBTREE),
        ("retract", "POST", "/records/<record_id>/retract", MANAGERS_SUBTREE),
        ("get_rule_set", "GET", "/rule-sets/<jurisdiction>", _each("path", *OFFICE)),
        ("publish_rule_set", "PUT", "/rule-sets/<jurisdiction>", MANAGERS_SUBTREE),
        ("kpis", "GET", "/kpis", OFFICE_SUBTREE),
    ),
    # --- archive: the hash-chained record ----------------------------------------------
    *_rows(
        "archive",
        API,
        ("trace", "GET", "/trace/<code>", OFFICE_SUBTREE),
        ("events", "GET", "/events", ARCHIVE_SEARCH),
        ("export", "GET", "/export", ARCHIVE_SEARCH),
        ("verify", "GET", "/verify", _each("province", "admin", "auditor")),
        ("replay", "POST", "/replay", _each("subtree", "admin")),
        ("report", "GET", "/reports/<kind>", OFFICE_SUBTREE),
    ),
    # --- every service: its dead letters ----------------------------------------------
    *(
        Action(
            f"dead_letters.{view}",
            method,
            f"/<svc>{API}/dead-letters{path}",
            _each("province", "admin"),
        )
        for view, method, path in (
            ("list_dead_letters", "GET", ""),
            ("show_dead_letter", "GET", "/<letter_id>"),
            ("redrive", "POST", "/redrive"),
        )
    ),
)

MATRIX: dict[str, Action] = {a.name: a for a in ACTIONS}


def action(name: str) -> Action:
    """The row of ``name``; KeyError naming it when the matrix has none."""
    try:
        return MATRIX[name]
    except KeyError:
        raise KeyError(
            f"{name} has no row in the permission matrix (shared/permissions.py)"
        ) from None


def refusal(name: str) -> str:
    """The message of a role refusal: the action and the roles it needs."""
    return f"This call ({name}) needs one of the roles: {', '.join(action(name).allowed_roles())}."


def within(name: str, scopes: tuple[str, ...] | list[str]) -> bool:
    """Whether a key's ``scopes`` (actions, or ``<service>.*``) include the action ``name``;
    a key without scopes may call all its role may."""
    service = name.split(".", 1)[0]
    return not scopes or any(s in (name, f"{service}.*") for s in scopes)


def size() -> dict[str, int]:
    """The matrix's size: actions, roles, cells and the cells that allow a call."""
    allowed = sum(1 for a in ACTIONS for r in COLUMNS if a.cell(r) != "—")
    return {
        "actions": len(ACTIONS),
        "roles": len(COLUMNS),
        "cells": len(ACTIONS) * len(COLUMNS),
        "allowed": allowed,
        "public": sum(1 for a in ACTIONS if a.public),
    }


def _path(path: str) -> str:
    return path.replace("<int:", "<").replace("|", "\\|")


def markdown() -> str:
    """The matrix as the README prints it: the size, the scopes, then one row per action."""
    n = size()
    lines = [
        f"{n['actions']} actions × {n['roles']} roles = {n['cells']} cells, "
        f"{n['allowed']} of them allowed ({n['public']} actions are public).",
        "",
        *(f"- **{word}**: {meaning}" for word, meaning in SCOPES.items()),
        "",
        "| Action | Method and path | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for a in ACTIONS:
        cells = " | ".join(a.cell(r) for r in COLUMNS)
        lines.append(f"| `{a.name}` | `{a.method} {_path(a.path)}` | {cells} |")
    return "\n".join(lines) + "\n"
