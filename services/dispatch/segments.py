"""The standing 包保 link of an enterprise: which department owns it before any demand
(XN 固定包保责任区域; XM 挂钩联系: each enterprise segment linked to a department; SX
重点企业专人包保).

Pure Python: no Flask, SQLAlchemy or kombu.

An enterprise's segments, most specific first (``segments_of``):

* ``key`` — on the key-enterprise list (重点企业, SX);
* ``named_person`` / ``one_plan`` — the "两清零" flags (专人包保 / 一企一策, SX);
* ``park:<code>`` — located in that park (innermost first; XM 大学科技园/创新大厦入驻企业);
* ``field:<technology field>`` — its industry/technology field (XM 医疗生物医药与健康企业);
* ``<growth tier>`` — ``tech_sme``, ``hitech_enterprise``… (XM 高新技术处 ↔ 高新技术企业).

A department names the segments it owns (``departments.segments``; demand categories
live in the same list and never match an enterprise). The rule (``rule_link``): the
first of the enterprise's segments, in that order, that a department on the
enterprise's jurisdiction path owns — nearest jurisdiction first — wins; when none
does, the nearest jurisdiction's default department owns it (``rule:default``). A
deliberate segment link anywhere on the path beats a catch-all default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.dispatch.domain import Department
from shared.events import jurisdiction_path

DEFAULT = "default"
EXPLICIT = "explicit"


@dataclass(frozen=True)
class Profile:
    """What the rule reads of an enterprise (intake's profile, as dispatch keeps it)."""

    jurisdiction: str
    growth_tier: str | None = None
    technology_field: str | None = None
    is_key: bool = False
    needs_named_person: bool = False
    needs_one_plan: bool = False


@dataclass(frozen=True)
class RuleLink:
    """The department the rules give an enterprise, and the segment that decided."""

    department: Department
    segment: str  # a segment of ``segments_of``, or DEFAULT

    @property
    def basis(self) -> str:
        return f"rule:{self.segment}"


def is_park(code: str) -> bool:
    """A park unit (``630102-P0001``): its last platform part starts with ``P``."""
    _, _, last = code.rpartition("-")
    return bool(_) and last.startswith("P")


def segments_of(p: Profile) -> list[str]:
    """The enterprise's segments, most specific first."""
    out: list[str] = []
    if p.is_key:
        out.append("key")
    if p.needs_named_person:
        out.append("named_person")
    if p.needs_one_plan:
        out.append("one_plan")
    out += [f"park:{c}" for c in reversed(jurisdiction_path(p.jurisdiction)) if is_park(c)]
    if p.technology_field:
        out.append(f"field:{p.technology_field}")
    if p.growth_tier:
        out.append(p.growth_tier)
    return out


def rule_link(p: Profile, departments: Iterable[Department]) -> RuleLink | None:
    """The department the segment rules give the enterprise (None: no department on its
    jurisdiction path owns a segment of it, and none is a default)."""
    path = list(reversed(jurisdiction_path(p.jurisdiction)))  # nearest first
    depts = sorted((d for d in departments if d.jurisdiction in path), key=lambda d: d.id)
    nearest = sorted(depts, key=lambda d: path.index(d.jurisdiction))  # stable: ids within
    for segment in segments_of(p):
        for d in nearest:
            if segment in d.segments:
                return RuleLink(d, segment)
    for d in nearest:
        if d.is_default:
            return RuleLink(d, DEFAULT)
    return None


def follows_link(basis: str | None) -> bool:
    """Whether a new demand's owner is the standing link's: an explicit link or one a
    segment made. A default-only link leaves the demand to the category rule
    (``domain.choose_owner``), whose own fallback is that same default."""
    return basis is not None and basis != f"rule:{DEFAULT}"
