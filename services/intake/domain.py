"""Intake rules: credit codes, unified demand codes, the accepted demand.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.timezone import CHINA

# GB 32100-2015: 31 characters (no I, O, Z, S, V) and the weights of positions 1-17.
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_RE = re.compile(rf"^[{CREDIT_CHARSET}]{{18}}$")


def credit_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if not CREDIT_RE.match(code):
        return "may contain only digits and capital letters other than I, O, S, V, Z"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but GB 32100-2015 gives {expected!r}"
    return None


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
