"""Versioned rule sets: one helper for every service that publishes rules as data.

Dispatch's alliance rules (per city), visits' frequency rules and scoring's table A.1 (per
jurisdiction, inherited down the tree) are kept the same way: a table keyed by
``(<unit>, version)`` with ``effective_from``, a JSON body, ``published_by`` and
``published_at``. Rules are never edited: a new version is published, taking effect today
or later (China time), and the version in force on a day is the unit's latest by effective
date, then version. With ``inherit`` the nearest unit on the jurisdiction's path that has a
version in force applies (nearest unit wins); without it, only the unit's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from shared.events import jurisdiction_path
from shared.timezone import china_today
from shared.usecases import Invalid


def version_in_force(session: Session, table: Table, jurisdiction: str, on: date) -> Any | None:
    """The row of a versioned rule table (``jurisdiction``, ``version``,
    ``effective_from``) in force for ``jurisdiction`` on ``on``: the nearest jurisdiction
    on its path with a version in effect, its latest by effective date then version;
    None when no jurisdiction on the path has one (the defaults apply)."""
    path = jurisdiction_path(jurisdiction)
    rows = session.execute(
        select(table)
        .where(table.c.jurisdiction.in_(path), table.c.effective_from <= on)
        .order_by(table.c.effective_from.desc(), table.c.version.desc())
    ).all()
    for code in reversed(path):
        for row in rows:
            if row.jurisdiction == code:
                return row
    return None


class Published(NamedTuple):
    version: int
    at: datetime


@dataclass(frozen=True)
class RuleSets:
    """The versioned rule sets kept in ``table``: ``unit`` names its key column and
    ``body`` its JSON column."""

    table: Table
    unit: str = "jurisdiction"
    body: str = "params"
    inherit: bool = True

    def in_force(self, session: Session, unit: str, on: date) -> tuple[str, int, Any] | None:
        """``(unit it comes from, version, body)`` of the version in force, or None when
        there is none (the caller's defaults apply, as version 0)."""
        t = self.table
        if self.inherit:
            row = version_in_force(session, t, unit, on)
        else:
            row = session.execute(
                select(t)
                .where(t.c[self.unit] == unit, t.c.effective_from <= on)
                .order_by(t.c.effective_from.desc(), t.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return row._mapping[self.unit], row.version, json.loads(row._mapping[self.body])

    def versions(self, session: Session, unit: str) -> list[dict[str, Any]]:
        """Every version the unit published, oldest first, with its body."""
        t = self.table
        rows = session.execute(
            select(t).where(t.c[self.unit] == unit).order_by(t.c.version)
        ).mappings()
        return [_version(r, self.body) for r in rows]

    @staticmethod
    def check_effective(effective_from: date, today: date | None = None) -> None:
        """``Invalid`` for a version that would take effect before today (China time):
        rules are never changed for days already worked."""
        if effective_from < (today or china_today()):
            raise Invalid.field("effective_from", "rules take effect today or later")

    def publish(
        self, session: Session, unit: str, effective_from: date, body: Any, actor: str
    ) -> Published:
        """Add the unit's next version in the caller's transaction: its number and the
        instant stored. A version taking effect before today is ``Invalid``; two
        publishers of one unit at once meet on the primary key (the loser's transaction
        fails and is retried or 409s)."""
        self.check_effective(effective_from)
        t = self.table
        last = session.execute(select(func.max(t.c.version)).where(t.c[self.unit] == unit)).scalar()
        version = (last or 0) + 1
        at = datetime.now(UTC)
        session.execute(
            insert(t).values(
                {
                    self.unit: unit,
                    "version": version,
                    "effective_from": effective_from,
                    self.body: json.dumps(body, ensure_ascii=False),
                    "published_by": actor,
                    "published_at": at,
                }
            )
        )
        return Published(version, at)


def _version(row: Any, body: str) -> dict[str, Any]:
    return {
        "version": row["version"],
        "effective_from": row["effective_from"],
        "published_by": row["published_by"],
        "published_at": row["published_at"],
        "body": json.loads(row[body]),
    }
