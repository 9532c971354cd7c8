"""Compliance with the frequency rules, computed: facts in, items out.

Pure Python: no Flask, SQLAlchemy or kombu. ``services.visits.compliance`` gathers the
facts of one period in one subtree — the subjects, what each did, the rules in force at
the period's start — and ``assess`` answers, for each rule of the period's granularity
and each subject: required, done, shortfall and status (met; short once the period has
closed; open until then), each item naming its rule's source and version.

* a week: every department's visits (department_weekly) and every station staff
  member's working days on duty (station_duty, asked in proportion to the week's
  working days);
* a month: every team's trips to its linked city (team_city_monthly, one visit to
  several of the city's enterprises is one trip);
* a quarter: every team's visits to each of its key enterprises (team_key_quarterly)
  with the team's coverage of them, and every department leader's visits to the
  enterprises linked to the department (leader_quarterly; nothing asked without any).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.visits.domain import (
    RULE_KINDS,
    FrequencyRules,
    Period,
    is_working_day,
    required_duty_days,
    status_of,
)

DEFAULTS = (0, FrequencyRules())  # version 0: the seeds' defaults


@dataclass(frozen=True)
class Department:
    """A department (责任部室) and, in a week, its visits; in a quarter, its leader's."""

    id: str
    name: str
    jurisdiction: str
    visits: int = 0  # the department's visits in the period
    leader_id: str | None = None
    leader_name: str | None = None
    linked: int = 0  # enterprises linked (包保) to the department
    leader_visits: int = 0  # the leader's visits to one or more of those enterprises


@dataclass(frozen=True)
class OnDuty:
    """A station's staff member and the days they were on duty there in the period."""

    station_id: str
    jurisdiction: str  # the station's
    staff_id: str
    name: str
    days: tuple[date, ...] = ()


@dataclass(frozen=True)
class KeyEnterprise:
    credit_code: str
    name: str
    visits: int = 0  # the team's visits to it in the period


@dataclass(frozen=True)
class Team:
    """A provincial service team (服务专班): its trips to its linked city in a month, its
    key enterprises and the visits to each in a quarter."""

    id: str
    name: str
    jurisdiction: str
    linked_city: str
    city_visits: int = 0
    key_enterprises: tuple[KeyEnterprise, ...] = ()


@dataclass(frozen=True)
class Facts:
    """What ``assess`` needs for one period: the subjects in the order they are
    reported, and the (version, rules) in force by jurisdiction — a jurisdiction
    missing from ``rules`` has the defaults (version 0)."""

    period: Period
    rules: Mapping[str, tuple[int, FrequencyRules]] = field(default_factory=dict)
    departments: tuple[Department, ...] = ()
    on_duty: tuple[OnDuty, ...] = ()
    teams: tuple[Team, ...] = ()

    def rules_of(self, jurisdiction: str) -> tuple[int, FrequencyRules]:
        return self.rules.get(jurisdiction, DEFAULTS)

    def places(self) -> set[str]:
        """Every jurisdiction whose rules the facts are assessed with."""
        return (
            {d.jurisdiction for d in self.departments}
            | {o.jurisdiction for o in self.on_duty}
            | {t.jurisdiction for t in self.teams}
        )


def assess(facts: Facts, today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The compliance items of the period's rules and, for a quarter, the teams'
    key-enterprise coverage."""
    kind = facts.period.kind
    if kind == "week":
        return weekly(facts, today), []
    if kind == "month":
        return monthly(facts, today), []
    if kind == "quarter":
        return quarterly(facts, today)
    return [], []


def item(
    facts: Facts,
    today: date,
    rule: str,
    subject: tuple[str, str, str],
    jurisdiction: str,
    required: int,
    done: int,
    **extra: Any,
) -> dict[str, Any]:
    """One subject against one rule; ``subject`` is (type, id, name)."""
    subject_type, subject_id, name = subject
    return {
        "rule": rule,
        "source": RULE_KINDS[rule][2],
        "rule_version": facts.rules_of(jurisdiction)[0],
        "subject_type": subject_type,
        "subject_id": subject_id,
        "subject_name": name,
        "jurisdiction": jurisdiction,
        "required": required,
        "done": done,
        "shortfall": max(required - done, 0),
        "status": status_of(required, done, facts.period, today),
        **extra,
    }


def weekly(facts: Facts, today: date) -> list[dict[str, Any]]:
    """department_weekly for every department, then station_duty for every station's
    staff member (the days on duty that were working days count)."""
    period = facts.period
    out = [
        item(
            facts,
            today,
            "department_weekly",
            ("department", d.id, d.name),
            d.jurisdiction,
            facts.rules_of(d.jurisdiction)[1].department_weekly,
            d.visits,
        )
        for d in facts.departments
    ]
    working = sum(1 for d in period.days() if is_working_day(d))
    for o in facts.on_duty:
        per_five = facts.rules_of(o.jurisdiction)[1].station_duty_days_per_five
        out.append(
            item(
                facts,
                today,
                "station_duty",
                ("station_staff", f"{o.station_id}/{o.staff_id}", o.name),
                o.jurisdiction,
                required_duty_days(per_five, period),
                sum(1 for d in o.days if is_working_day(d)),
                station_id=o.station_id,
                working_days=working,
            )
        )
    return out


def monthly(facts: Facts, today: date) -> list[dict[str, Any]]:
    """team_city_monthly for every team."""
    return [
        item(
            facts,
            today,
            "team_city_monthly",
            ("team", t.id, t.name),
            t.jurisdiction,
            facts.rules_of(t.jurisdiction)[1].team_city_monthly,
            t.city_visits,
            linked_city=t.linked_city,
        )
        for t in facts.teams
    ]


def quarterly(facts: Facts, today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """team_key_quarterly for every team's key enterprises (with the team's coverage),
    then leader_quarterly for every department with a leader."""
    out: list[dict[str, Any]] = []
    coverage = []
    for t in facts.teams:
        rules = facts.rules_of(t.jurisdiction)[1]
        out.extend(
            item(
                facts,
                today,
                "team_key_quarterly",
                ("team_key_enterprise", f"{t.id}/{k.credit_code}", k.name),
                t.jurisdiction,
                rules.team_key_quarterly,
                k.visits,
                team_id=t.id,
            )
            for k in t.key_enterprises
        )
        coverage.append(team_coverage(t, rules))
    for d in facts.departments:
        if not d.leader_id:
            continue
        out.append(
            item(
                facts,
                today,
                "leader_quarterly",
                # one leader may lead two departments
                ("leader", f"{d.id}/{d.leader_id}", _known(d.leader_name, d.leader_id)),
                d.jurisdiction,
                facts.rules_of(d.jurisdiction)[1].leader_quarterly if d.linked else 0,
                d.leader_visits,
                department_id=d.id,
                linked_enterprises=d.linked,
            )
        )
    return out, coverage


def _known(name: str | None, unit_id: str) -> str:
    """A unit's name, or its id when visits has not heard of it (yet)."""
    return unit_id if name is None else name


def team_coverage(team: Team, rules: FrequencyRules) -> dict[str, Any]:
    """How many key enterprises the team is linked to (and whether that is enough) and
    the share of them it visited."""
    linked = len(team.key_enterprises)
    visited = sum(1 for k in team.key_enterprises if k.visits)
    return {
        "team_id": team.id,
        "team_name": team.name,
        "linked": linked,
        "minimum": rules.team_min_key_enterprises,
        "enough_linked": linked >= rules.team_min_key_enterprises,
        "visited": visited,
        "coverage": round(visited / linked, 4) if linked else None,
    }
