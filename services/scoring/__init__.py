"""Scoring: the assessment table A.1 and the KPIs, tallied from events."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "scoring"


def build(settings: Settings | None = None) -> Service:
    from services.scoring.models import metadata

    return bootstrap(NAME, metadata, settings)
