"""The service dossier (XN 服务档案) computed from archived envelopes: the contact list,
the demand list, the service ledger and the assessment records.

Pure Python: envelopes in (oldest first), the dossier's four parts out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

RECORD_FIELDS = ("id", "unit_id", "period", "kind", "value", "evidence", "at")


@dataclass
class Dossier:
    """The four parts, as the events read so far leave them. Contacts (departments,
    staff, enterprise owners) are the latest known whenever they were set; demands and
    assessment records are those since ``since``; the ledger holds the visits made from
    ``first`` to ``last`` (a revision replaces its visit)."""

    since: datetime
    first: date
    last: date
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    staff: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    demands: list[dict[str, Any]] = field(default_factory=list)
    visits: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def read(self, envelope: dict[str, Any]) -> None:
        apply = READERS.get(envelope["event_type"])
        if apply is not None:
            apply(self, envelope)

    def in_period(self, envelope: dict[str, Any]) -> bool:
        return datetime.fromisoformat(envelope["occurred_at"]) >= self.since

    def department(self, envelope: dict[str, Any]) -> None:
        p = envelope["payload"]
        self.departments[p["id"]] = {
            "id": p["id"],
            "name": p["name"],
            "jurisdiction": p["jurisdiction"],
            "leader": p.get("leader_staff_id"),
            "phone": p.get("phone"),
            "service_hours": p.get("service_hours"),
        }

    def staff_member(self, envelope: dict[str, Any]) -> None:
        p = envelope["payload"]
        self.staff[p["id"]] = {
            "id": p["id"],
            "name": p["name"],
            "title": p.get("title"),
            "department": p["department_id"],
            "phone": p.get("phone"),
        }

    def assignment(self, envelope: dict[str, Any]) -> None:
        p = envelope["payload"]
        if p["kind"] == "owner":
            self.owners[p["enterprise_credit_code"]] = {
                "enterprise": p["enterprise_credit_code"],
                "owner": p["assignee_name"],
                "owner_id": p["assignee_id"],
            }

    def demand(self, envelope: dict[str, Any]) -> None:
        p = envelope["payload"]
        if self.in_period(envelope):
            self.demands.append(
                {
                    "code": p["demand_code"],
                    "enterprise": p["enterprise"]["name"],
                    "category": p["category"],
                    "source": p["source"],
                    "accepted_at": p["accepted_at"],
                    "jurisdiction": envelope["jurisdiction"],
                }
            )

    def visit(self, envelope: dict[str, Any]) -> None:
        p = envelope["payload"]
        if self.first.isoformat() <= p["visited_on"] <= self.last.isoformat():
            self.visits[p["visit_id"]] = {
                "visit_id": p["visit_id"],
                "visited_on": p["visited_on"],
                "staff": p.get("staff_name"),
                "department": p.get("department_name"),
                "enterprises": [x["name"] for x in p["enterprises"]],
                "kind": p["kind"],
                "version": p["version"],
            }

    def record(self, envelope: dict[str, Any]) -> None:
        if self.in_period(envelope):
            self.records.append({k: envelope["payload"][k] for k in RECORD_FIELDS})

    def parts(self) -> dict[str, Any]:
        return {
            "contact_list": {
                "departments": list(self.departments.values()),
                "staff": list(self.staff.values()),
                "enterprise_owners": list(self.owners.values()),
            },
            "demand_list": self.demands,
            "service_ledger": sorted(
                self.visits.values(), key=lambda v: (v["visited_on"], v["visit_id"])
            ),
            "assessment_records": self.records,
        }


READERS: dict[str, Callable[[Dossier, dict[str, Any]], None]] = {
    "department.updated": Dossier.department,
    "staff.updated": Dossier.staff_member,
    "assignment.made": Dossier.assignment,
    "demand.accepted": Dossier.demand,
    "visit.logged": Dossier.visit,
    "visit.revised": Dossier.visit,
    "scoring.record_entered": Dossier.record,
}


def dossier_of(
    events: Iterable[dict[str, Any]], since: datetime, first: date, last: date
) -> dict[str, Any]:
    """The dossier's four parts for the period from ``first`` to ``last`` (``since`` is
    its first instant)."""
    dossier = Dossier(since, first, last)
    for e in events:
        dossier.read(e)
    return dossier.parts()
