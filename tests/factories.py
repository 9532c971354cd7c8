"""Data for tests, made in one place: factories, not copies."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.events import make_event

DEMO_DEMAND = {
    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
    "category": "technology",
    "title": "正极材料烧结工艺改进",
    "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
    "source": "online",
}


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


def stage(svc: Any, n: int, producer: str = "intake") -> list[str]:
    """Commit ``n`` demand.accepted events to ``svc``'s outbox; their ids, in order."""
    ids = []
    with svc.uow() as uow:
        for i in range(n):
            ev = make_event(
                "demand.accepted",
                1,
                producer=producer,
                jurisdiction="630102",
                payload=accepted_payload(demand_code=f"630102-2026-{i:06d}"),
            )
            uow.emit(ev)
            ids.append(ev.event_id)
        uow.commit()
    return ids


def alliance_member(
    id: str,
    rank: int = 0,
    category: str = "finance",
    status: str = "active",
    paused_until: date | None = None,
) -> Any:
    """A member agency as dispatch's alliance rules see it (``alliance.Agency``)."""
    from services.dispatch.alliance import Agency

    return Agency(id, f"{id} 事务所", category, rank, status, paused_until)
