"""Archive: every event of every service, append-only and hash-chained (服务档案)."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "archive"
PRODUCERS = ("directory", "intake", "dispatch", "visits", "scoring")


def build(settings: Settings | None = None) -> Service:
    from services.archive.models import metadata

    return bootstrap(NAME, metadata, settings)
