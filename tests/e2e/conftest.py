"""The end-to-end fixture: the whole platform in one process (the embedded shape)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from onestop import migrate
from onestop.embedded import Platform
from onestop.seed import seed_demo, wait_for_copies
from shared.config import Settings


@pytest.fixture
def platform(embedded_settings: Settings) -> Iterator[Any]:
    """Migrated, seeded with the demo data (its keys in ``platform.creds``), started."""
    migrate.upgrade(embedded_settings)
    creds = seed_demo(embedded_settings)
    p: Any = Platform(embedded_settings)
    p.start()
    wait_for_copies(embedded_settings, creds)
    p.creds = creds
    yield p
    p.stop()
