"""Intake: where every demand enters and its closed loop is owned."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "intake"


def build(settings: Settings | None = None) -> Service:
    from services.intake.models import metadata

    return bootstrap(NAME, metadata, settings)
