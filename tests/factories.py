"""Data for tests, made in one place: factories, not copies."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEMO_DEMAND


def accepted_payload(**over: Any) -> dict[str, Any]:
    """A ``demand.accepted`` v1 payload; ``over`` replaces fields."""
    p = {
        "demand_code": "630102-2026-000001",
        "enterprise": DEMO_DEMAND["enterprise"],
        "category": "technology",
        "title": "t",
        "description": "d",
        "source": "online",
        "consent_to_share": False,
        "accepted_at": "2026-11-25T08:00:00+00:00",
        "accepted_by": "key1",
    }
    p.update(over)
    return p
