"""The console's menu and who may open a page. Each page module names its menu links and
the roles they are for; what a person may *do* is still decided by the services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, url_for
from flask_babel import LazyString

ENTERPRISE = ("enterprise",)
OFFICE = ("office_staff", "commissioner")
LEADER = ("leader",)
STATION = ("station_staff",)
AGENCY = ("agency_clerk",)
ADMINS = ("sysadmin", "secadmin", "auditor")

# Where each role starts after signing in (the first role that has a page).
HOMES: tuple[tuple[str, str], ...] = (
    ("enterprise", "hall.index"),
    ("leader", "cockpit.index"),
    ("office_staff", "work.board"),
    ("commissioner", "work.board"),
    ("station_staff", "alliance.station"),
    ("agency_clerk", "alliance.orders"),
    ("sysadmin", "admin.index"),
    ("secadmin", "admin.index"),
    ("auditor", "admin.index"),
)


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: LazyString | str
    roles: tuple[str, ...]


LINKS: list[Link] = []


def link(endpoint: str, label: LazyString | str, roles: tuple[str, ...]) -> None:
    """A menu link to ``endpoint`` for the people with one of ``roles``."""
    LINKS.append(Link(endpoint, label, roles))


def roles_of(person: Mapping[str, Any] | None) -> set[str]:
    return set((person or {}).get("roles") or ())


def nav_for(person: Mapping[str, Any] | None) -> list[Link]:
    mine = roles_of(person)
    return [item for item in LINKS if mine & set(item.roles)]


def home_for(person: Mapping[str, Any] | None) -> str:
    mine = roles_of(person)
    for role, endpoint in HOMES:
        if role in mine:
            return url_for(endpoint)
    return url_for("auth.account")


def requires(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The page needs a signed-in person with one of ``roles`` (any person when none)."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not g.get("person"):
                return redirect(url_for("auth.sign_in", next=request.full_path))
            if roles and not roles_of(g.person) & set(roles):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return wrap
