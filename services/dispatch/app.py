"""Dispatch HTTP API: the responsibility map, the agency alliance and agency orders."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from services.dispatch import (
    agency_orders,
    blacklisting,
    build,
    city_rules,
    cohandling,
    experts,
    membership,
    metrics,
    responsibility,
    standing,
    sweep,
)
from services.dispatch import schemas as sc
from services.dispatch.broker import AgencyBroker
from services.dispatch.coordination import coordinate
from services.dispatch.coordination import reassign as reassign_order
from services.dispatch.decisions import list_decisions
from services.dispatch.progress import report_progress
from shared.config import Settings
from shared.usecases import NotFound
from shared.views import OnestopBlueprint, current_principal, permit, service
from shared.web import make_app

blp = OnestopBlueprint("dispatch", __name__, url_prefix="/api/v1", description="Dispatch (派单)")


# --- assignments and agency orders ----------------------------------------------------
@blp.get("/assignments")
@permit("dispatch.assignments")
@blp.arguments(sc.AssignmentArgs, location="query")
@blp.response(200, sc.AssignmentList)
def assignments(args: dict[str, Any]) -> dict[str, Any]:
    """Assignments in your subtree (an agency key sees only its own orders)."""
    return {"items": agency_orders.list_assignments(service().uow(), current_principal(), args)}


@blp.get("/assignments/<assignment_id>")
@permit("dispatch.assignment")
@blp.response(200, sc.AssignmentDetail)
def assignment(assignment_id: str) -> dict[str, Any]:
    """One assignment with its dispatch decision (who was chosen, who was skipped and why),
    history and complaints, with the demand's content and contact (the agency and the office
    handle it; an agency that no longer does keeps them only with consent)."""
    return agency_orders.get_order(service().uow(), current_principal(), assignment_id)


@blp.post("/assignments/<assignment_id>/progress")
@permit("dispatch.progress")
@blp.arguments(sc.ProgressIn)
@blp.response(202, sc.ProgressOut)
def progress(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The assignee (owner office or agency) reports progress: ``started`` or ``feedback``.
    Emits ``assignment.progress_reported``; intake moves the demand's loop."""
    return report_progress(
        service().uow(), current_principal(), assignment_id, data, correlation_id=g.correlation_id
    )


def _act(assignment_id: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
    return agency_orders.act(
        service().uow(),
        current_principal(),
        assignment_id,
        action,
        data,
        correlation_id=g.correlation_id,
    )


@blp.post("/assignments/<assignment_id>/acknowledge")
@permit("dispatch.acknowledge")
@blp.arguments(sc.NoteIn)
@blp.response(200, sc.AssignmentDetail)
def acknowledge(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The agency confirms it received the order."""
    return _act(assignment_id, "acknowledge", data)


@blp.post("/assignments/<assignment_id>/complete")
@permit("dispatch.complete")
@blp.arguments(sc.CompleteIn)
@blp.response(200, sc.AssignmentDetail)
def complete(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """Completion: goal reached or not, and the date the enterprise received the policy
    funds; settlement is due 7 days later (第十九条)."""
    return _act(assignment_id, "complete", data)


@blp.post("/assignments/<assignment_id>/refuse")
@permit("dispatch.refuse")
@blp.arguments(sc.RefuseIn)
@blp.response(200, sc.AssignmentDetail)
def refuse(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """A refusal is recorded (agencies may not refuse, 第七条); the office then coordinates."""
    return _act(assignment_id, "refuse", data)


@blp.post("/assignments/<assignment_id>/coordination")
@permit("dispatch.coordination")
@blp.arguments(sc.CoordinationIn)
@blp.response(200, sc.AssignmentDetail)
def coordination(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """The outcome of coordinating a refusal: complied, justified (re-dispatched) or
    unjustified (the agency exits, 第二十二条第一项; re-dispatched)."""
    return coordinate(
        service().uow(), current_principal(), assignment_id, data, correlation_id=g.correlation_id
    )


@blp.post("/assignments/<assignment_id>/complaints")
@permit("dispatch.complaint")
@blp.arguments(sc.ComplaintIn)
@blp.response(201, sc.ComplaintOut)
def complaint(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """A complaint about an agency order, from the enterprise (recorded by the office) or the
    owner."""
    return agency_orders.complain(
        service().uow(), current_principal(), assignment_id, data, correlation_id=g.correlation_id
    )


@blp.post("/assignments/<assignment_id>/reassign")
@permit("dispatch.reassign")
@blp.arguments(sc.NoteIn)
@blp.response(200, sc.AssignmentDetail)
def reassign(data: dict[str, Any], assignment_id: str) -> dict[str, Any]:
    """调单 (第二十四条): an overdue order with a complaint moves to the next agency in
    rotation; the agency's second reassignment in a calendar year means exit."""
    return reassign_order(
        service().uow(), current_principal(), assignment_id, data, correlation_id=g.correlation_id
    )


@blp.get("/decisions")
@permit("dispatch.decisions")
@blp.arguments(sc.DecisionArgs, location="query")
@blp.response(200, sc.DecisionList)
def decisions(args: dict[str, Any]) -> dict[str, Any]:
    """Agency dispatch decisions with their explanations."""
    return {"items": list_decisions(service().uow(), current_principal(), args)}


@blp.get("/breaches")
@permit("dispatch.breaches")
@blp.arguments(sc.LimitArgs, location="query")
@blp.response(200, sc.BreachList)
def breaches(args: dict[str, Any]) -> dict[str, Any]:
    """Time-limit warnings, overdue and unanswered (first-response) breaches (kept forever),
    newest first."""
    return {"items": sweep.list_breaches(service().uow(), current_principal(), args)}


# --- the responsibility map -------------------------------------------------------------
@blp.get("/departments")
@permit("dispatch.departments")
@blp.response(200, sc.DepartmentList)
def departments() -> dict[str, Any]:
    """Responsible departments (包保责任部室) in your subtree."""
    return {"items": responsibility.list_departments(service().uow(), current_principal())}


@blp.put("/departments/<dept_id>")
@permit("dispatch.put_department")
@blp.arguments(sc.DepartmentIn)
@blp.response(200, sc.DepartmentOut)
def put_department(data: dict[str, Any], dept_id: str) -> dict[str, Any]:
    """Create or replace a department of the map: its jurisdiction, linked segments (demand
    categories or growth tiers), whether it is the default, and its leader."""
    return responsibility.put_department(service().uow(), current_principal(), dept_id, data)


@blp.get("/staff")
@permit("dispatch.staff")
@blp.response(200, sc.StaffList)
def staff() -> dict[str, Any]:
    """Staff of the departments in your subtree."""
    return {"items": responsibility.list_staff(service().uow(), current_principal())}


@blp.put("/staff/<staff_id>")
@permit("dispatch.put_staff")
@blp.arguments(sc.StaffIn)
@blp.response(200, sc.StaffOut)
def put_staff(data: dict[str, Any], staff_id: str) -> dict[str, Any]:
    """Create or replace a staff member of a department."""
    return responsibility.put_staff(service().uow(), current_principal(), staff_id, data)


@blp.get("/enterprises/<credit_code>")
@permit("dispatch.enterprise")
@blp.response(200, sc.EnterpriseOut)
def enterprise(credit_code: str) -> dict[str, Any]:
    """An enterprise as dispatch sees it: flags, named owner, blacklist entries."""
    return responsibility.get_enterprise(service().uow(), current_principal(), credit_code)


@blp.put("/enterprises/<credit_code>/named-owner")
@permit("dispatch.named_owner")
@blp.arguments(sc.NamedOwnerIn)
@blp.response(200, sc.EnterpriseOut)
def named_owner(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """Name the person (专人包保) who owns a key or flagged enterprise's demands (null clears)."""
    return responsibility.name_owner(service().uow(), current_principal(), credit_code, data)


@blp.post("/enterprises/<credit_code>/blacklist")
@permit("dispatch.blacklist")
@blp.arguments(sc.BlacklistIn)
@blp.response(201, sc.BlacklistOut)
def blacklist(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """企业黑名单 (第二十一条): abandoned mid-way or refused to pay after the goal was reached;
    the city's alliance dispatches no agency for it any more."""
    return blacklisting.blacklist_enterprise(
        service().uow(), current_principal(), credit_code, data, correlation_id=g.correlation_id
    )


# --- the alliance -------------------------------------------------------------------------
@blp.get("/agencies")
@permit("dispatch.agency_list")
@blp.arguments(sc.AgencyArgs, location="query")
@blp.response(200, sc.AgencyList)
def agency_list(args: dict[str, Any]) -> dict[str, Any]:
    """Member agencies in rotation order per category (an agency key sees itself)."""
    return {"items": membership.list_agencies(service().uow(), current_principal(), args)}


@blp.post("/agencies")
@permit("dispatch.admit")
@blp.arguments(sc.AdmissionIn)
@blp.response(201, sc.AdmissionOut)
def admit(data: dict[str, Any]) -> dict[str, Any]:
    """Admission (第五条): >= 5 in-city high-tech engagements in two years, else 422 with the
    reason. Returns the agency's API key and broker credentials, once."""
    svc = service()
    return membership.admit(
        svc.uow(),
        current_principal(),
        data,
        broker=AgencyBroker(svc.settings),
        correlation_id=g.correlation_id,
    )


@blp.get("/agencies/<agency_id>")
@permit("dispatch.agency")
@blp.response(200, sc.AgencyOut)
def agency(agency_id: str) -> dict[str, Any]:
    return membership.get_agency(service().uow(), current_principal(), agency_id)


@blp.put("/agencies/<agency_id>/rank-basis")
@permit("dispatch.rank_basis")
@blp.arguments(sc.RankBasisIn)
@blp.response(200, sc.AgencyOut)
def rank_basis(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """The yearly rank basis (第十六条: last year's in-city high-tech business volume)."""
    return membership.set_rank_basis(service().uow(), current_principal(), agency_id, data)


@blp.post("/agencies/<agency_id>/pause")
@permit("dispatch.pause")
@blp.arguments(sc.PauseIn)
@blp.response(200, sc.AgencyOut)
def pause(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """Pause dispatch to an agency until a date (enterprise orders still reach it)."""
    return membership.change_status(
        service().uow(),
        current_principal(),
        agency_id,
        "pause",
        data,
        correlation_id=g.correlation_id,
    )


@blp.post("/agencies/<agency_id>/resume")
@permit("dispatch.resume")
@blp.arguments(sc.ResumeIn)
@blp.response(200, sc.AgencyOut)
def resume(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    return membership.change_status(
        service().uow(),
        current_principal(),
        agency_id,
        "resume",
        data,
        correlation_id=g.correlation_id,
    )


@blp.post("/agencies/<agency_id>/exit")
@permit("dispatch.exit_")
@blp.arguments(sc.ExitIn)
@blp.response(200, sc.AgencyOut)
def exit_(data: dict[str, Any], agency_id: str) -> dict[str, Any]:
    """会员退出 (第二十二条): on one of its grounds; no more dispatches. Final."""
    return membership.change_status(
        service().uow(),
        current_principal(),
        agency_id,
        "exit",
        data,
        correlation_id=g.correlation_id,
    )


@blp.get("/alliances/<city>/rules")
@permit("dispatch.rules")
@blp.response(200, sc.RulesOut)
def rules(city: str) -> dict[str, Any]:
    """The rule set in effect (version 0 = the seed's numbers) and every published version."""
    return city_rules.get_rules(service().uow(), current_principal(), city)


@blp.put("/alliances/<city>/rules")
@permit("dispatch.publish_rules")
@blp.arguments(sc.RulesIn)
@blp.response(200, sc.RulesOut)
def publish_rules(data: dict[str, Any], city: str) -> dict[str, Any]:
    """Publish a new rule version effective from a date; fields left out keep the seed's
    values; inconsistent caps or parameters are 422s naming the field."""
    return city_rules.publish_rules(service().uow(), current_principal(), city, data)


@blp.get("/alliances/<city>/menu")
@permit("dispatch.menu")
@blp.response(200, sc.MenuList)
def menu(city: str) -> dict[str, Any]:
    """The standard-contract menu (第十四条): price, policy coverage, bond per service item."""
    return {"items": city_rules.get_menu(service().uow(), current_principal(), city)}


@blp.get("/alliances/<city>/offers")
@permit("dispatch.offers")
@blp.response(200, sc.OfferList)
def offers(city: str) -> dict[str, Any]:
    """The members of the alliance that serves ``city`` (any unit: the nearest unit on its
    path with members) for anyone signed in, e.g. an enterprise ordering a service
    (企业点单): name, category and whether paused, in rotation order per category — never
    contacts or internals. Exited members are left out."""
    return membership.list_offers(service().uow(), city)


@blp.put("/alliances/<city>/menu/<item>")
@permit("dispatch.put_menu")
@blp.arguments(sc.MenuItemIn)
@blp.response(200, sc.MenuItemOut)
def put_menu(data: dict[str, Any], city: str, item: str) -> dict[str, Any]:
    return city_rules.put_menu_item(service().uow(), current_principal(), city, item, data)


@blp.post("/alliances/<city>/month-close")
@permit("dispatch.month_close")
@blp.arguments(sc.MonthCloseIn)
@blp.response(200, sc.MonthCloseOut)
def month_close(data: dict[str, Any], city: str) -> dict[str, Any]:
    """Close a past month now (the worker does it on the 1st): agencies at a cap are
    paused for the next month. 409 when the month is already closed."""
    return sweep.close_past_month(service().uow(), current_principal(), city, data)


# --- co-handling: the expert pool and co-handlers of a complex demand ---------------------
@blp.get("/experts")
@permit("dispatch.expert_pool")
@blp.arguments(sc.ExpertArgs, location="query")
@blp.response(200, sc.ExpertList)
def expert_pool(args: dict[str, Any]) -> dict[str, Any]:
    """The expert pool (专家库) of your subtree; ``field`` and ``available`` (today) filter."""
    return {"items": experts.list_experts(service().uow(), current_principal(), args)}


@blp.get("/experts/<expert_id>")
@permit("dispatch.expert")
@blp.response(200, sc.ExpertOut)
def expert(expert_id: str) -> dict[str, Any]:
    found = experts.get_expert(service().uow(), current_principal(), expert_id)
    if found is None:
        raise NotFound(f"No expert {expert_id} in your subtree.")
    return found


@blp.put("/experts/<expert_id>")
@permit("dispatch.put_expert")
@blp.arguments(sc.ExpertIn)
@blp.response(200, sc.ExpertOut)
def put_expert(data: dict[str, Any], expert_id: str) -> dict[str, Any]:
    """Create or replace an expert of a unit's pool: fields, institution, phone and
    availability (unavailable, optionally until a day)."""
    return experts.put_expert(service().uow(), current_principal(), expert_id, data)


@blp.get("/demands/<code>/co-handlers")
@permit("dispatch.cohandlers")
@blp.response(200, sc.CoTaskList)
def cohandlers(code: str) -> dict[str, Any]:
    """A complex demand's co-handlers and their tasks (a co-handling department sees its
    own)."""
    return {"items": cohandling.list_cohandlers(service().uow(), current_principal(), code)}


@blp.post("/demands/<code>/co-handlers")
@permit("dispatch.add_cohandler")
@blp.arguments(sc.CoHandlerIn)
@blp.response(201, sc.CoTaskOut)
def add_cohandler(data: dict[str, Any], code: str) -> dict[str, Any]:
    """联合处置: the lead owner's office gives a department, an expert of the pool or a
    research institute a task with a due date on a complex, open demand. Emits
    ``cohandling.assigned``."""
    return cohandling.add_cohandler(
        service().uow(), current_principal(), code, data, correlation_id=g.correlation_id
    )


@blp.post("/demands/<code>/co-handlers/<cotask_id>/feedback")
@permit("dispatch.cohandler_feedback")
@blp.arguments(sc.FeedbackIn)
@blp.response(200, sc.CoTaskOut)
def cohandler_feedback(data: dict[str, Any], code: str, cotask_id: str) -> dict[str, Any]:
    """The co-handler's feedback, once: a department's by its office, an expert's or an
    institute's recorded by the lead's. Emits ``cohandling.reported``."""
    return cohandling.report(
        service().uow(),
        current_principal(),
        code,
        cotask_id,
        data,
        correlation_id=g.correlation_id,
    )


# --- standing 包保 links (``standing``) -------------------------------------------------------
@blp.get("/responsibility-map")
@permit("dispatch.responsibility_map")
@blp.arguments(sc.MapArgs, location="query")
@blp.response(200, sc.MapPage)
def responsibility_map(args: dict[str, Any]) -> dict[str, Any]:
    """Every enterprise's standing 包保 link in your subtree, by credit code: its
    department, named person and basis (``rule:<segment>``, ``rule:default``,
    ``explicit``); filters by department, staff and segment; cursor pages."""
    return standing.responsibility_map(service().uow(), current_principal(), args)


@blp.get("/enterprises/<credit_code>/owner")
@permit("dispatch.enterprise_owner")
@blp.response(200, sc.EnterpriseLinkOut)
def enterprise_owner(credit_code: str) -> dict[str, Any]:
    """An enterprise's standing link and every version before it (with ``until``)."""
    return standing.link_of(service().uow(), current_principal(), credit_code)


@blp.put("/enterprises/<credit_code>/owner")
@permit("dispatch.put_enterprise_owner")
@blp.arguments(sc.OwnerIn)
@blp.response(200, sc.EnterpriseLinkOut)
def put_enterprise_owner(data: dict[str, Any], credit_code: str) -> dict[str, Any]:
    """Link an enterprise explicitly to a department (and one of its staff); it beats the
    segment rules until removed (both null). Emits ``responsibility.linked``."""
    return standing.set_owner(service().uow(), current_principal(), credit_code, data)


@blp.post("/staff/<staff_id>/transfer")
@permit("dispatch.transfer")
@blp.arguments(sc.TransferIn)
@blp.response(200, sc.TransferOut)
def transfer(data: dict[str, Any], staff_id: str) -> dict[str, Any]:
    """A staff member leaves: every enterprise linked to them and (unless
    ``open_assignments`` is false) their open owner assignments move to another person of
    the same unit or a unit below (else 422 on ``to_staff_id``); history kept, each move
    announced."""
    return standing.transfer(
        service().uow(), current_principal(), staff_id, data, correlation_id=g.correlation_id
    )


def create_app(settings: Settings | None = None) -> Flask:
    return make_app(
        build(settings), title="onestop dispatch", blueprints=[blp], on_scrape=metrics.refresh
    )
