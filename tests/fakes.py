"""Fakes for use-case tests: a unit of work with no broker and no relay, a directory in
memory. A use case ``f(uow, actor, command)`` runs against them as it runs in a service;
the test reads back the rows it stored and the events it committed.

The fake unit of work keeps the service's tables (``metadata.create_all``) in a throwaway
SQLite file: the use cases query through SQLAlchemy, and a hand-written in-memory
repository per table would test the fake rather than the queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.events import Event, jurisdiction_path

# The demo tree: Qinghai, Xining and its districts, Haidong.
DIVISIONS = {
    "630000": ("青海省", None, "province"),
    "630100": ("西宁市", "630000", "prefecture"),
    "630102": ("城东区", "630100", "county"),
    "630103": ("城中区", "630100", "county"),
    "630104": ("城西区", "630100", "county"),
    "630105": ("城北区", "630100", "county"),
    "630200": ("海东市", "630000", "prefecture"),
}


class FakeDirectory:
    """Places by code, as ``shared.auth.Directory`` answers them."""

    def __init__(self, divisions: dict[str, tuple[str, str | None, str]] | None = None) -> None:
        self.divisions = dict(DIVISIONS if divisions is None else divisions)

    def jurisdiction(self, code: str) -> dict[str, Any] | None:
        found = self.divisions.get(code)
        if found is None:
            return None
        name, parent, level = found
        return {
            "code": code,
            "name": name,
            "parent": parent,
            "level": level,
            "source": "gb2260",
            "retired": False,
            "successor": None,
        }

    def subtree(self, root: str) -> list[dict[str, Any]]:
        return [
            j
            for code in sorted(self.divisions)
            if root in jurisdiction_path(code) and (j := self.jurisdiction(code))
        ]


class FakeUnitOfWork(UnitOfWork):
    """A unit of work over a throwaway SQLite file holding ``metadata``'s tables.
    ``committed`` lists every event of every committed transaction, in order."""

    def __init__(self, metadata: MetaData, path: Path, directory: Any | None = None) -> None:
        db = Database(f"sqlite:///{path}", metadata)
        metadata.create_all(db.engine)
        super().__init__(db, metadata.tables["outbox"], directory=directory or FakeDirectory())
        self.committed: list[Event] = []
        self.commits = 0

    def commit(self) -> None:
        staged = list(self.events)
        super().commit()
        self.commits += 1
        self.committed.extend(staged)

    def types(self) -> list[str]:
        return [e.event_type for e in self.committed]


def actor(role: str = "admin", jurisdiction: str = "630102", **more: Any) -> Principal:
    """A principal acting in a use case (key id ``k-<role>``)."""
    return Principal(
        key_id=more.pop("key_id", f"k-{role}"),
        name=more.pop("name", f"{role} of {jurisdiction}"),
        role=role,
        jurisdiction=jurisdiction,
        **more,
    )
