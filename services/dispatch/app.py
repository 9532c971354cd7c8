"""Dispatch HTTP API: the responsibility map, the agency alliance and agency orders."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from services.dispatch import agencies, build, handlers, metrics, orders, sweep
from services.dispatch import schemas as sc
from shared.config import Settings
from shared.errors import ApiError
from shared.web import OnestopBlueprint, current_principal, make_app, require_role, service

blp = OnestopBlueprint("dispatch", __name__, url_prefix="/api/v1", description="Dispatch (派单)")
OFFICE = ("admin", "district", "staff")
MANAGERS = ("admin", "district")


# --- assignments and agency orders ----------------------------------------------------
@blp.get("/assignments")
@blp.arguments(sc.AssignmentArgs, location="query")
@blp.response(200, sc.AssignmentList)
def assignments(args: dict[str, Any]) -> dict[str, Any]:
    """Assignments in your subtree (an agency key sees only its own orders)."""
    return {"items": handlers.list_assignments(service(), current_principal(), args)}


@blp.get("/assignments/<assignment_id>")
@blp.response(200, sc.AssignmentDetail)
def assignment(assignment_id: str) -> dict[str, Any]:
    """One assignment with its dispatch decision (who was chosen, who was skipped and why),
    history and complaints. The demand's content only with the enterprise's consent."""
    return orders.get_order(service(), assignment_id, current_principal())


@blp.post("/assignments/<assignment_id>/progress")
@blp.arguments(sc.ProgressIn)
@blp.response(202, sc.ProgressOut)
def progress(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The assignee (owner office or agency) reports progress: ``started`` or ``feedback``.
    Emits ``assignment.progress_reported``; intake moves the demand's loop."""
    return handlers.report_progress(
        service(), assignment_id, current_principal(), data["stage"], data["note"], g.correlation_id
    )


def _act(assignment_id: str, action: str, note: str, **extra: Any) -> dict[str, Any]:
    return orders.act(
        service(), assignment_id, current_principal(), action, note, g.correlation_id, **extra
    )


@blp.post("/assignments/<assignment_id>/acknowledge")
@require_role("agency")
@blp.arguments(sc.NoteIn)
@blp.response(200, sc.AssignmentDetail)
def acknowledge(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The agency confirms it received the order."""
    return _act(assignment_id, "acknowledge", data["note"])


@blp.post("/assignments/<assignment_id>/complete")
@require_role("agency")
@blp.arguments(sc.CompleteIn)
@blp.response(200, sc.AssignmentDetail)
def complete(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """Completion: goal reached or not, and the date the enterprise received the policy
    funds; settlement is due 7 days later (第十九条)."""
    funds = data["funds_received_on"]
    if funds is not None and funds > orders.china_today():
        raise ApiError(
            422,
            "The funds cannot be received in the future.",
            fields={"json": {"funds_received_on": ["in the future"]}},
        )
    return _act(
        assignment_id,
        "complete",
        data["note"],
        goal_reached=data["goal_reached"],
        funds_received_on=funds,
    )


@blp.post("/assignments/<assignment_id>/refuse")
@require_role("agency")
@blp.arguments(sc.RefuseIn)
@blp.response(200, sc.AssignmentDetail)
def refuse(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """A refusal is recorded (agencies may not refuse, 第七条); the office then coordinates."""
    return _act(assignment_id, "refuse", data["reason"])


@blp.post("/assignments/<assignment_id>/coordination")
@require_role(*MANAGERS)
@blp.arguments(sc.CoordinationIn)
@blp.response(200, sc.AssignmentDetail)
def coordination(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The outcome of coordinating a refusal: complied, justified (re-dispatched) or
    unjustified (the agency exits, 第二十二条第一项; re-dispatched)."""
    return orders.coordinate(
        service(),
        assignment_id,
        current_principal(),
        data["outcome"],
        data["note"],
        g.correlation_id,
    )


@blp.post("/assignments/<assignment_id>/complaints")
@require_role(*OFFICE)
@blp.arguments(sc.ComplaintIn)
@blp.response(201, sc.ComplaintOut)
def complaint(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """A complaint about an agency order, from the enterprise (recorded by the office) or the
    owner."""
    return orders.complain(
        service(),
        assignment_id,
        current_principal(),
        data["source"],
        data["text"],
        g.correlation_id,
    )


@blp.post("/assignments/<assignment_id>/reassign")
@require_role(*MANAGERS)
@blp.arguments(sc.NoteIn)
@blp.response(200, sc.AssignmentDetail)
def reassign(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """调单 (第二十四条): an overdue order with a complaint moves to the next agency in
    rotation; the agency's second reassignment in a calendar year means exit."""
    return orders.reassign(
        service(), assignment_id, current_principal(), data["note"], g.correlation_id
    )


@blp.get("/decisions")
@require_role(*OFFICE)
@blp.arguments(sc.DecisionArgs, location="query")
@blp.response(200, sc.DecisionList)
def decisions(args: dict[str, Any]) -> dict[str, Any]:
    """Agency dispatch decisions with their explanations."""
    items = handlers.list_decisions(
        service(), current_principal(), args.get("demand_code"), args["limit"]
    )
    return {"items": items}


@blp.get("/breaches")
@require_role(*OFFICE)
@blp.arguments(sc.LimitArgs, location="query")
@blp.response(200, sc.BreachList)
def breaches(args: dict[str, Any]) -> dict[str, Any]:
    """Time-limit warnings and overdue breaches (kept forever), newest first."""
    return {"items": handlers.list_breaches(service(), current_principal(), args["limit"])}


# --- the responsibility map -------------------------------------------------------------
@blp.get("/departments")
@require_role(*OFFICE)
@blp.response(200, sc.DepartmentList)
def departments() -> dict[str, Any]:
    """Responsible departments (包保责任部室) in your subtree."""
    return {"items": handlers.list_departments(service(), current_principal())}


@blp.put("/departments/<dept_id>")
@require_role(*MANAGERS)
@blp.arguments(sc.DepartmentIn)
@blp.response(200, sc.DepartmentOut)
def put_department(data: dict[str, Any], dept_id: str) -> dict[str, Any]:
    """Create or replace a department of the map: its jurisdiction, linked segments (demand
    categories or growth tiers), whether it is the default, and its leader."""
    return handlers.put_department(service(), current_principal(), dept_id, data)


@blp.get("/staff")
@require_role(*OFFICE)
@blp.response(200, sc.StaffList)
def staff() -> dict[str, Any]:
    """Staff of the departments in your subtree."""
    return {"items": handlers.list_staff(service(), current_principal())}


@blp.put("/staff/<staff_id>")
@require_role(*MANAGERS)
@blp.arguments(sc.StaffIn)
@blp.response(200, sc.StaffOut)
def put_staff(data: dict[str, Any], staff_id: str) -> dict[str, Any]:
    """Create or replace a staff member of a department."""
    return handlers.put_staff(service(), current_principal(), staff_id, data)


@blp.get("/enterprises/<credit_code>")
@require_role(*OFFICE)
@blp.response(200, sc.EnterpriseOut)
def enterprise(credit_code: str) -> dict[str, Any]:
    """An enterprise as dispatch sees it: flags, named owner, blacklist entries."""
    return handlers.get_enterprise(service(), current_principal(), credit_code)


@blp.put("/enterprises/<credit_code>/named-owner")
@require_role(*MANAGERS)
@blp.arguments(sc.NamedOwnerIn)
@blp.response(200, sc.EnterpriseOut)
def named_owner(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """Name the person (专人包保) who owns a key or flagged enterprise's demands (null clears)."""
    return handlers.name_owner(service(), current_principal(), credit_code, data["staff_id"])


@blp.post("/enterprises/<credit_code>/blacklist")
@require_role(*MANAGERS)
@blp.arguments(sc.BlacklistIn)
@blp.response(201, sc.BlacklistOut)
def blacklist(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """企业黑名单 (第二十一条): abandoned mid-way or refused to pay after the goal was reached;
    the city's alliance dispatches no agency for it any more."""
    return agencies.blacklist_enterprise(
        service(), current_principal(), credit_code, data, g.correlation_id
    )


# --- the alliance -------------------------------------------------------------------------
@blp.get("/agencies")
@blp.arguments(sc.AgencyArgs, location="query")
@blp.response(200, sc.AgencyList)
def agency_list(args: dict[str, Any]) -> dict[str, Any]:
    """Member agencies in rotation order per category (an agency key sees itself)."""
    return {"items": agencies.list_agencies(service(), current_principal(), args)}


@blp.post("/agencies")
@require_role(*MANAGERS)
@blp.arguments(sc.AdmissionIn)
@blp.response(201, sc.AdmissionOut)
def admit(data: dict[str, Any]) -> dict[str, Any]:
    """Admission (第五条): >= 5 in-city high-tech engagements in two years, else 422 with the
    reason. Returns the agency's API key and broker credentials, once."""
    return agencies.admit(service(), current_principal(), data, g.correlation_id)


@blp.get("/agencies/<agency_id>")
@blp.response(200, sc.AgencyOut)
def agency(agency_id: str) -> dict[str, Any]:
    return agencies.get_agency(service(), current_principal(), agency_id)


@blp.put("/agencies/<agency_id>/rank-basis")
@require_role(*MANAGERS)
@blp.arguments(sc.RankBasisIn)
@blp.response(200, sc.AgencyOut)
def rank_basis(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """The yearly rank basis (第十六条: last year's in-city high-tech business volume)."""
    return agencies.set_rank_basis(service(), current_principal(), agency_id, data)


@blp.post("/agencies/<agency_id>/pause")
@require_role(*MANAGERS)
@blp.arguments(sc.PauseIn)
@blp.response(200, sc.AgencyOut)
def pause(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """Pause dispatch to an agency until a date (enterprise orders still reach it)."""
    return agencies.change_status(
        service(), current_principal(), agency_id, "pause", data, g.correlation_id
    )


@blp.post("/agencies/<agency_id>/resume")
@require_role(*MANAGERS)
@blp.arguments(sc.ResumeIn)
@blp.response(200, sc.AgencyOut)
def resume(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    return agencies.change_status(
        service(), current_principal(), agency_id, "resume", data, g.correlation_id
    )


@blp.post("/agencies/<agency_id>/exit")
@require_role(*MANAGERS)
@blp.arguments(sc.ExitIn)
@blp.response(200, sc.AgencyOut)
def exit_(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """会员退出 (第二十二条): on one of its grounds; no more dispatches. Final."""
    return agencies.change_status(
        service(), current_principal(), agency_id, "exit", data, g.correlation_id
    )


@blp.get("/alliances/<city>/rules")
@require_role(*OFFICE)
@blp.response(200, sc.RulesOut)
def rules(city: str) -> dict[str, Any]:
    """The rule set in effect (version 0 = the seed's numbers) and every published version."""
    return agencies.get_rules(service(), current_principal(), city)


@blp.put("/alliances/<city>/rules")
@require_role(*MANAGERS)
@blp.arguments(sc.RulesIn)
@blp.response(200, sc.RulesOut)
def publish_rules(data: dict[str, Any], city: str) -> dict[str, Any]:
    """Publish a new rule version effective from a date; fields left out keep the seed's
    values; inconsistent caps or parameters are 422s naming the field."""
    return agencies.publish_rules(service(), current_principal(), city, data)


@blp.get("/alliances/<city>/menu")
@blp.response(200, sc.MenuList)
def menu(city: str) -> dict[str, Any]:
    """The standard-contract menu (第十四条): price, policy coverage, bond per service item."""
    return {"items": agencies.get_menu(service(), current_principal(), city)}


@blp.put("/alliances/<city>/menu/<item>")
@require_role(*MANAGERS)
@blp.arguments(sc.MenuItemIn)
@blp.response(200, sc.MenuItemOut)
def put_menu(data: dict[str, Any], city: str, item: str) -> dict[str, Any]:
    return agencies.put_menu_item(service(), current_principal(), city, item, data)


@blp.post("/alliances/<city>/month-close")
@require_role(*MANAGERS)
@blp.arguments(sc.MonthCloseIn)
@blp.response(200, sc.MonthCloseOut)
def month_close(data: dict[str, Any], city: str) -> dict[str, Any]:
    """Close a past month now (the worker does it on the 1st): agencies above a cap are
    paused for the next month. 409 when the month is already closed."""
    agencies.city_scope(current_principal(), city)  # a city code within your subtree
    if data["month"] >= orders.china_today().strftime("%Y-%m"):
        raise ApiError(
            422,
            "Only a past month can be closed.",
            fields={"json": {"month": ["not a past month"]}},
        )
    done = sweep.close_month_of(service(), city, data["month"], current_principal().key_id)
    if done is None:
        raise ApiError(409, f"{city} {data['month']} is already closed.")
    return done


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(
        build(settings), title="onestop dispatch", blueprints=[blp], on_scrape=metrics.refresh
    )
