"""Directory: places (the unit tree: divisions, townships, parks, stations) and the
credentials every call is made with (API keys), announced to every service."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "directory"


def build(settings: Settings | None = None) -> Service:
    from services.directory import sealing
    from services.directory.models import metadata

    svc = bootstrap(NAME, metadata, settings)
    sealing.configure(svc.settings)
    return svc
