"""Intake use cases of Open311's reads: the service requests a reader may see — the
public (no ``api_key``) or a handling party — with their latest step and outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select

from services.intake.confidentiality import as_request
from services.intake.georeport import MAX_REQUESTS, RequestQuery
from services.intake.lifecycle import FINAL
from services.intake.models import demand_updates, demands
from services.intake.reading import demand_rows
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import subtree_prefix
from shared.usecases import NotFound


def _as_requests(uow: UnitOfWork, rows: Sequence[Any], public: bool) -> list[dict[str, Any]]:
    """``rows`` as service requests, each with its latest step and closing note."""
    codes = [r.code for r in rows]
    if not codes:
        return []
    u = demand_updates
    with uow.read() as s:
        latest = dict(
            s.execute(
                select(u.c.demand_code, func.max(u.c.at))
                .where(u.c.demand_code.in_(codes))
                .group_by(u.c.demand_code)
            ).all()
        )
        notes = {
            r.demand_code: r.note
            for r in s.execute(
                select(u.c.demand_code, u.c.note)
                .where(
                    u.c.demand_code.in_(codes),
                    u.c.kind == "transition",
                    u.c.to_status.in_(FINAL),
                )
                .order_by(u.c.id)
            )
        }
    return [as_request(r, latest.get(r.code), public, notes.get(r.code)) for r in rows]


def request_conditions(query: RequestQuery) -> list[ColumnElement[bool]]:
    """The conditions of a request query, in the order they are given."""
    d = demands
    found: list[ColumnElement[bool]] = []
    if query.jurisdiction:
        found.append(d.c.jurisdiction.startswith(subtree_prefix(query.jurisdiction)))
    if query.ids is not None:  # the other filters are ignored (GeoReport v2)
        return [*found, d.c.code.in_(query.ids)]
    if query.service_codes is not None:
        found.append(d.c.service_item.in_(query.service_codes))
    if query.start is not None:
        found.append(d.c.accepted_at >= query.start)
    if query.end is not None:
        found.append(d.c.accepted_at <= query.end)
    if query.statuses == {"open"}:
        found.append(d.c.status.notin_(FINAL))
    elif query.statuses == {"closed"}:
        found.append(d.c.status.in_(FINAL))
    return found


def list_requests(
    uow: UnitOfWork, actor: Principal | None, query: RequestQuery
) -> list[dict[str, Any]]:
    """The requests of the query, newest first (at most ``MAX_REQUESTS``); a handling
    party's only within its subtree."""
    q = demand_rows()
    for condition in request_conditions(query):
        q = q.where(condition)
    with uow.read() as s:
        rows = s.execute(q.order_by(demands.c.accepted_at.desc()).limit(MAX_REQUESTS)).all()
    if actor is not None:
        rows = [r for r in rows if actor.can_see(r.jurisdiction)]
    return _as_requests(uow, rows, public=actor is None)


def get_request(uow: UnitOfWork, actor: Principal | None, code: str) -> list[dict[str, Any]]:
    """One request (as the standard's one-element list), or NotFound."""
    with uow.read() as s:
        row = s.execute(demand_rows().where(demands.c.code == code)).first()
    if row is None or (actor is not None and not actor.can_see(row.jurisdiction)):
        raise NotFound(f"service_request_id {code} not found")
    return _as_requests(uow, [row], public=actor is None)
