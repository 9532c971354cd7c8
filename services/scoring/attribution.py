"""Who each demand fact counts for, kept as the facts arrive.

A demand's fact counts for the unit that owned the demand when it happened (its first owner
for earlier facts: ``domain.scorecard.owner_at``), under the input its stage and the
demand's category feed (``domain.facts.stage_input``). Facts and owner changes arrive in any
order, so every consumer that adds either re-attributes the whole demand (a handful of rows)
in its own transaction: ``demand_facts.owner_id`` and ``.input`` then always say what the
pure rule would say of the facts stored. Scorecards aggregate those columns in SQL instead
of attributing every fact of a jurisdiction on each read.

The same pass sums the demand up month by month (``demand_months``: accepted, closed,
solved, the month's last close, its ratings, and the demand's first and next months with a
close), which is what a jurisdiction's KPIs count — a row or two per demand instead of its
every fact, and no row needs another to be counted.

Two consumers touching one demand at once would each miss the other's uncommitted row, so
``attribute`` first takes a per-demand lock for the rest of the transaction (PostgreSQL: an
advisory lock; SQLite writes one transaction at a time anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from services.scoring.domain.facts import stage_input
from services.scoring.domain.scorecard import OwnerSpell, owner_at
from services.scoring.models import demand_facts, demand_months, demand_owners, owner_history

UNCOUNTED = ("accepted", "rating", "closed")  # facts that feed no stage input


def lock_demand(s: Session, demand_code: str) -> None:
    """Serialise the transactions that attribute one demand (until they end)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(demand_code, 0))))


def attribute(s: Session, demand_code: str) -> None:
    """Set each of the demand's facts' owner and input from what is stored now."""
    lock_demand(s, demand_code)
    h, f = owner_history.c, demand_facts.c
    spells = [
        OwnerSpell(demand_code, r.since, r.unit_id)
        for r in s.execute(
            select(h.since, h.unit_id)
            .where(h.demand_code == demand_code)
            .order_by(h.since, h.event_id)
        )
    ]
    category = s.execute(
        select(demand_owners.c.category).where(demand_owners.c.demand_code == demand_code)
    ).scalar()
    rows = s.execute(
        select(
            f.event_id,
            f.fact,
            f.at,
            f.owner_id,
            f.input,
            f.period,
            f.jurisdiction,
            f.credit_code,
            f.value,
        )
        .where(f.demand_code == demand_code)
        .order_by(f.at, f.event_id)
    ).all()
    for row in rows:
        owner = owner_at(spells, row.at)
        name = None if row.fact in UNCOUNTED else stage_input(row.fact, category)
        if (owner, name) != (row.owner_id, row.input):
            s.execute(
                update(demand_facts)
                .where(f.event_id == row.event_id, f.fact == row.fact)
                .values(owner_id=owner, input=name)
            )
    s.execute(delete(demand_months).where(demand_months.c.demand_code == demand_code))
    months = sum_up(rows)
    if months:
        s.execute(
            insert(demand_months), [{"demand_code": demand_code, **m} for m in months.values()]
        )


def sum_up(rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """A demand's facts (in the order they happened) summed up per month."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = out.setdefault(
            r.period,
            {
                "month": r.period,
                "jurisdiction": r.jurisdiction,
                "accepted_by": None,
                "accepted": False,
                "closed": False,
                "solved": False,
                "last_close_value": None,
                "next_close": None,
                "first_close": None,
                "rating_sum": 0,
                "ratings": 0,
            },
        )
        if r.fact == "accepted":
            m["accepted"], m["accepted_by"] = True, r.credit_code
        elif r.fact == "closed":
            m["closed"], m["last_close_value"] = True, r.value
        elif r.fact == "solved":
            m["solved"] = True
        elif r.fact == "rating":
            m["rating_sum"] += int(r.value)
            m["ratings"] += 1
    closes = sorted(month for month, m in out.items() if m["closed"])
    for month, m in out.items():
        m["first_close"] = closes[0] if closes else None
        m["next_close"] = next((c for c in closes if c > month), None)
    return out
