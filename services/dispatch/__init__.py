"""Dispatch: every accepted demand gets a responsible owner (包保) and, where a
market service is needed, a member agency."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "dispatch"


def build(settings: Settings | None = None) -> Service:
    from services.dispatch.models import metadata

    return bootstrap(NAME, metadata, settings)
