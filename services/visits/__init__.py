"""Visits: the on-site service ledger (服务进企) and who must visit which enterprise."""

from shared.config import Settings
from shared.runtime import Service, bootstrap

NAME = "visits"


def build(settings: Settings | None = None) -> Service:
    from services.visits.models import metadata

    return bootstrap(NAME, metadata, settings)
