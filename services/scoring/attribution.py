"""Who each demand fact counts for, kept as the facts arrive.

A demand's fact counts for the unit that owned the demand when it happened (its first owner
for earlier facts: ``domain.scorecard.owner_at``), under the input its stage and the
demand's category feed (``domain.facts.stage_input``). Facts and owner changes arrive in any
order, so every consumer that adds either re-attributes the whole demand (a handful of rows)
in its own transaction: ``demand_facts.owner_id`` and ``.input`` then always say what the
pure rule would say of the facts stored. Scorecards aggregate those columns in SQL instead
of attributing every fact of a jurisdiction on each read.

Two consumers touching one demand at once would each miss the other's uncommitted row, so
``attribute`` first takes a per-demand lock for the rest of the transaction (PostgreSQL: an
advisory lock; SQLite writes one transaction at a time anyway).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.scoring.domain.facts import stage_input
from services.scoring.domain.scorecard import OwnerSpell, owner_at
from services.scoring.models import demand_facts, demand_owners, owner_history

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
    for row in s.execute(
        select(f.event_id, f.fact, f.at, f.owner_id, f.input).where(f.demand_code == demand_code)
    ).all():
        owner = owner_at(spells, row.at)
        name = None if row.fact in UNCOUNTED else stage_input(row.fact, category)
        if (owner, name) != (row.owner_id, row.input):
            s.execute(
                update(demand_facts)
                .where(f.event_id == row.event_id, f.fact == row.fact)
                .values(owner_id=owner, input=name)
            )
