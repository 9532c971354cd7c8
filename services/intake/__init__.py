"""Intake: where every demand enters and its closed loop is owned."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "intake"


def build(settings: Settings | None = None) -> Service:
    from services.intake import subscribing
    from services.intake.models import metadata

    svc = bootstrap(NAME, metadata, settings)
    subscribing.configure(svc.settings)  # the callbacks' secrets are sealed
    return svc
