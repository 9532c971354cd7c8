"""Scoring rules: which A.1 item and stage an event counts towards, and when.

Pure Python: no Flask, SQLAlchemy or kombu.
"""

from __future__ import annotations

import re
from datetime import datetime

from shared.timezone import CHINA

MONTH_RE = re.compile(r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])\Z")

# Table A.1 "Solving demands": technology demands earn points per stage
# (collected, analysed, published, matched, solved); every other category is a
# "general demand" (R&D expense, IP, policy…) that earns a point when solved.
TECHNOLOGY_ITEM = "technology_demands"
GENERAL_ITEM = "general_demands"


def period_of(at: datetime) -> str:
    """The scoring month of an instant: ``YYYY-MM`` in China time."""
    return at.astimezone(CHINA).strftime("%Y-%m")


def demand_item(category: str) -> str:
    return TECHNOLOGY_ITEM if category == "technology" else GENERAL_ITEM
