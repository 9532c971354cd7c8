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


class VisitsWorld:
    """Visits' copy of two districts: 城东区 (630102, in 西宁) and 乐都区 (630202, in 海东),
    a department each (城东区's led by s-lead), four staff, three key enterprises, and
    城东区科学技术局 linked (包保) to E1 only. ``seed(uow)`` stores them (not a commit of
    ``uow``: its ``committed`` and ``commits`` stay empty)."""

    E1 = "91630102MA0000E1X1"  # 城东区
    E2 = "91630102MA0000E2X2"  # 城东区
    E3 = "91630202MA0000E3X3"  # 乐都区, in the other city
    DEPARTMENTS = [  # id, name, jurisdiction, leader
        ("cd-kjj", "城东区科学技术局", "630102", "s-lead"),
        ("hd-kjj", "乐都区科学技术局", "630202", None),
    ]
    STAFF = [  # id, department, name
        ("s-lead", "cd-kjj", "赵敏"),
        ("s-1", "cd-kjj", "陈静"),
        ("s-2", "hd-kjj", "马俊"),
        ("s-3", "cd-kjj", "李娜"),
    ]
    ENTERPRISES = [
        (E1, "青海高原新材料科技有限公司", "630102"),
        (E2, "西宁城东光伏有限公司", "630102"),
        (E3, "海东乐都农业科技有限公司", "630202"),
    ]

    @classmethod
    def seed(cls, uow: Any) -> None:
        from datetime import UTC, datetime

        from sqlalchemy import insert

        from services.visits.models import enterprise_links, enterprises, units

        where = {d[0]: d[2] for d in cls.DEPARTMENTS}
        rows = {
            units: [
                {"id": i, "type": "department", "name": n, "jurisdiction": j,
                 "leader_staff_id": lead}
                for i, n, j, lead in cls.DEPARTMENTS
            ]
            + [
                {"id": i, "type": "staff", "name": n, "jurisdiction": where[dept],
                 "department_id": dept}
                for i, dept, n in cls.STAFF
            ],
            enterprises: [
                {"credit_code": c, "name": n, "jurisdiction": j, "is_key": True}
                for c, n, j in cls.ENTERPRISES
            ],
            enterprise_links: [
                {"enterprise_credit_code": cls.E1, "unit_type": "department",
                 "unit_id": "cd-kjj", "unit_name": "城东区科学技术局",
                 "jurisdiction": "630102", "since": datetime(2026, 1, 5, tzinfo=UTC),
                 "last_demand_code": "630102-2026-000001", "demand_count": 1}
            ],
        }  # fmt: skip
        with uow.db.write_session() as s:
            for table, values in rows.items():
                for v in values:
                    s.execute(insert(table).values(**v))
            s.commit()
