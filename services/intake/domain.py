"""Intake rules: unified demand codes, the accepted demand.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timezone import CHINA


def unified_code(jurisdiction: str, year: int, sequence: int) -> str:
    """The demand's unified code: ``<jurisdiction>-<yyyy>-<6-digit sequence>``, the
    jurisdiction any unit of the tree (``630102-2026-000001``, a park's
    ``630102-P0001-2026-000001``; ``shared.contracts.intake.DEMAND_CODE_RE``)."""
    if not 1 <= sequence <= 999_999:
        raise ValueError("the yearly sequence of a jurisdiction is exhausted (max 999999)")
    return f"{jurisdiction}-{year:04d}-{sequence:06d}"


def demand_year(at: datetime) -> int:
    """Demands are numbered per calendar year in China time."""
    return at.astimezone(CHINA).year


@dataclass(frozen=True)
class Demand:
    code: str
    jurisdiction: str
    enterprise_credit_code: str
    enterprise_name: str
    category: str
    title: str
    description: str
    source: str
    consent_to_share: bool
    accepted_at: datetime
    accepted_by: str
    status: str = "accepted"

    def accepted_payload(self) -> dict[str, object]:
        return {
            "demand_code": self.code,
            "enterprise": {
                "credit_code": self.enterprise_credit_code,
                "name": self.enterprise_name,
            },
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "source": self.source,
            "consent_to_share": self.consent_to_share,
            "accepted_at": self.accepted_at.isoformat(),
            "accepted_by": self.accepted_by,
        }


# -- enterprises (创新主体信息库) ---------------------------------------------------

# The XM growth ladder / SX gradient, lowest first.
GROWTH_TIERS = ("startup_team", "tech_sme", "hitech_candidate", "hitech_enterprise", "little_giant")
# SX "两清零": revenue thresholds in CNY (defaults of the rule; see DOMAIN.md).
NAMED_PERSON_REVENUE = 100_000_000
ONE_PLAN_REVENUE = 500_000_000


@dataclass(frozen=True)
class CoverageFlags:
    """Mandatory coverage an enterprise's figures call for (SX 两清零)."""

    needs_named_person: bool  # ≥ 100M revenue and no R&D activity → 专人包保
    needs_one_plan: bool  # ≥ 500M revenue and no R&D institution → 一企一策


def coverage_flags(
    revenue: int | None,
    has_rd_activity: bool | None,
    has_rd_institution: bool | None,
    *,
    named_person_revenue: int = NAMED_PERSON_REVENUE,
    one_plan_revenue: int = ONE_PLAN_REVENUE,
) -> CoverageFlags:
    """Unknown figures raise no flag: a flag is a finding, not a guess."""
    if revenue is None:
        return CoverageFlags(False, False)
    return CoverageFlags(
        needs_named_person=revenue >= named_person_revenue and has_rd_activity is False,
        needs_one_plan=revenue >= one_plan_revenue and has_rd_institution is False,
    )
