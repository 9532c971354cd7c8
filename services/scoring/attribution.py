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

And it keeps each unit's tallies (``unit_tallies``): what the demand adds to each unit's
inputs month by month (``tally_demand``) is computed from the facts as they were attributed
before and as they are now, and the difference added — so a ranking adds up a few rows per
unit and month, whatever the number of demands.

Two consumers touching one demand at once would each miss the other's uncommitted row, so
attributing first takes a per-demand lock for the rest of the transaction (PostgreSQL: an
advisory lock; SQLite writes one transaction at a time anyway).

Handlers ask for it with ``attribute_later``: the attribution runs once per demand just
before their transaction commits (``UnitOfWork.before_commit``), for all the demands of a
consumer's batch together — a few statements per batch instead of ten per event. Attributing
reads only what is stored, so once at the end gives what attributing after each handler
would have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from services.scoring.domain.facts import stage_input
from services.scoring.domain.scorecard import OwnerSpell, owner_at
from services.scoring.models import (
    demand_facts,
    demand_months,
    demand_owners,
    owner_history,
    unit_tallies,
)
from shared.db import UnitOfWork, dialect_insert

UNCOUNTED = ("accepted", "rating", "closed")  # facts that feed no stage input


def lock_demands(s: Session, demand_codes: Sequence[str]) -> None:
    """Serialise the transactions that attribute these demands (until they end). The locks
    are taken in one order, whatever order the demands came in: two transactions
    attributing overlapping demands wait for each other instead of deadlocking."""
    if s.get_bind().dialect.name == "postgresql" and demand_codes:
        s.execute(LOCK, {"codes": sorted(set(demand_codes))})


LOCK = text(
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(c, 0) AS k"
    " FROM unnest(CAST(:codes AS text[])) AS c ORDER BY k) AS keys"
)


def attribute_later(uow: UnitOfWork, demand_code: str) -> None:
    """Attribute the demand once, just before the transaction commits (``attribute_all``
    of every demand the transaction's handlers asked for): a consumer's batch attributes
    each demand once, in a few statements for all of them."""
    uow.before_commit(attribute_all, demand_code)


BATCH = 500  # demands per round of statements: what one statement binds stays bounded


def attribute_all(s: Session, demand_codes: Sequence[str], *, tallies: bool = True) -> None:
    """Set each of the demands' facts' owner and input from what is stored now, sum each
    demand up per month, and bring the units' tallies up to date (unless ``tallies`` is
    False: a migration that runs before their table exists) — in a handful of statements
    per ``BATCH`` demands, whatever their number of facts."""
    codes = list(dict.fromkeys(demand_codes))
    for i in range(0, len(codes), BATCH):
        _attribute(s, codes[i : i + BATCH], tallies)


def _attribute(s: Session, codes: list[str], tallies: bool) -> None:
    lock_demands(s, codes)
    h, f = owner_history.c, demand_facts.c
    spells: dict[str, list[OwnerSpell]] = defaultdict(list)
    for r in s.execute(
        select(h.demand_code, h.since, h.unit_id)
        .where(h.demand_code.in_(codes))
        .order_by(h.demand_code, h.since, h.event_id)
    ):
        spells[r.demand_code].append(OwnerSpell(r.demand_code, r.since, r.unit_id))
    categories = {
        code: category
        for code, category in s.execute(
            select(demand_owners.c.demand_code, demand_owners.c.category).where(
                demand_owners.c.demand_code.in_(codes)
            )
        )
    }
    facts: dict[str, list[Any]] = defaultdict(list)
    for row in s.execute(
        select(
            f.demand_code,
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
        .where(f.demand_code.in_(codes))
        .order_by(f.demand_code, f.at, f.event_id)
    ):
        facts[row.demand_code].append(row)
    changed: list[dict[str, Any]] = []
    delta: dict[TallyKey, tuple[int, int]] = {}
    months: list[dict[str, Any]] = []
    for code in codes:
        rows, category = facts.get(code, []), categories.get(code)
        before, after = [], []
        for row in rows:
            owner = owner_at(spells.get(code, []), row.at)
            name = None if row.fact in UNCOUNTED else stage_input(row.fact, category)
            if (owner, name) != (row.owner_id, row.input):
                changed.append({"e": row.event_id, "k": row.fact, "o": owner, "i": name})
            before.append(Attributed(row.owner_id, row.input, row.fact, row.period, row.value))
            after.append(Attributed(owner, name, row.fact, row.period, row.value))
        if tallies:
            accumulate(delta, difference(tally_demand(after), tally_demand(before)))
        months += [{"demand_code": code, **m} for m in sum_up(rows).values()]
    if changed:
        s.execute(
            update(demand_facts)
            .where(f.event_id == bindparam("e"), f.fact == bindparam("k"))
            .values(owner_id=bindparam("o"), input=bindparam("i")),
            changed,
        )
    if tallies:
        add_to_tallies(s, delta)
    s.execute(delete(demand_months).where(demand_months.c.demand_code.in_(codes)))
    if months:
        s.execute(insert(demand_months), months)


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


class Attributed(NamedTuple):
    """A demand fact as attributed: its owner and input (None: none), fact, month, value."""

    owner: str | None
    input: str | None
    fact: str
    month: str
    value: int | None


TallyKey = tuple[str, str, str, str, str]  # unit, month, input, prev, next


def tally_demand(facts: Sequence[Attributed]) -> dict[TallyKey, tuple[int, int]]:
    """What one demand's facts (in the order they happened) add to its owners' tallies:
    ``(unit, month, input, prev, next) → (n, total)``, by ``aggregates``' rules.

    * a stage input: each (unit, fact) once per month, with the unit's previous month of
      that fact ('' for none), so a period counts the demand once — in its first month;
    * "closed": the unit's last close of the demand in each month when it is timed (n 1,
      total 1 if on time), with the unit's next month with a close ('' for none), so a
      period counts the last close in it;
    * "satisfaction": each rating (n 1, total the rating)."""
    out: dict[TallyKey, tuple[int, int]] = {}

    def add(key: TallyKey, total: int) -> None:
        n0, t0 = out.get(key, (0, 0))
        out[key] = (n0 + 1, t0 + total)

    stages: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    closes: dict[str, dict[str, int | None]] = defaultdict(dict)
    for a in facts:
        if a.owner is None:
            continue
        if a.fact == "rating":
            add((a.owner, a.month, "satisfaction", "", ""), int(a.value or 0))
        elif a.fact == "closed":
            closes[a.owner][a.month] = a.value  # the month's last close wins
        elif a.input is not None and a.fact not in UNCOUNTED:
            stages[(a.owner, a.fact, a.input)].add(a.month)
    for (owner, _, name), months in stages.items():
        prev = ""
        for month in sorted(months):
            add((owner, month, name, prev, ""), 0)
            prev = month
    for owner, by_month in closes.items():
        ordered = sorted(by_month)
        for i, month in enumerate(ordered):
            value = by_month[month]
            if value is not None:
                following = ordered[i + 1] if i + 1 < len(ordered) else ""
                add((owner, month, "closed", "", following), int(value))
    return out


def difference(
    new: dict[TallyKey, tuple[int, int]], old: dict[TallyKey, tuple[int, int]]
) -> dict[TallyKey, tuple[int, int]]:
    """``new`` less ``old``, key by key."""
    out = {}
    for key in new.keys() | old.keys():
        (n1, t1), (n0, t0) = new.get(key, (0, 0)), old.get(key, (0, 0))
        out[key] = (n1 - n0, t1 - t0)
    return out


def accumulate(
    into: dict[TallyKey, tuple[int, int]], more: dict[TallyKey, tuple[int, int]]
) -> None:
    """Add the tallies ``more`` (another demand's) to ``into``."""
    for key, (n, total) in more.items():
        had, had_total = into.get(key, (0, 0))
        into[key] = (had + n, had_total + total)


def tally_rows(tallies: dict[TallyKey, tuple[int, int]]) -> list[dict[str, Any]]:
    """``unit_tallies`` rows of ``tallies``, in key order, leaving out what adds nothing."""
    return [
        {
            "unit_id": k[0],
            "month": k[1],
            "input": k[2],
            "prev": k[3],
            "next": k[4],
            "n": n,
            "total": t,
        }
        for k, (n, t) in sorted(tallies.items())
        if (n, t) != (0, 0)
    ]


def add_to_tallies(s: Session, delta: dict[TallyKey, tuple[int, int]]) -> None:
    """Add ``delta`` to the tallies: one statement, rows in key order (two transactions
    adding to the same rows lock them in the same order)."""
    rows = tally_rows(delta)
    if not rows:
        return
    u = unit_tallies
    stmt = dialect_insert(s.get_bind().dialect.name)(u).values(rows)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[u.c.unit_id, u.c.month, u.c.input, u.c.prev, u.c.next],
            set_={"n": u.c.n + stmt.excluded.n, "total": u.c.total + stmt.excluded.total},
        )
    )
