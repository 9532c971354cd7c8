"""Directory's worker: agencies' keys made at admission (dispatch), kept and announced; a
signing key ready before anyone signs in; old signing keys retired once their tokens have
expired. ``python -m services.directory.worker``."""

from __future__ import annotations

from datetime import UTC, datetime

from services.directory import build, keys, signin
from shared.contracts.dispatch import AGENCY_KEY_ISSUED
from shared.messaging import Subscription
from shared.runtime import Service
from shared.worker import run_worker


def subscriptions(svc: Service) -> list[Subscription]:
    return [svc.on("dispatch", AGENCY_KEY_ISSUED, keys.on_agency_key_issued)]


def on_start(svc: Service) -> None:
    """A signing key exists (and is announced) before the first sign-in, so every service
    knows it by the time a token signed with it arrives."""
    uow = svc.uow()
    with uow:
        signin.signing_key(uow, datetime.now(UTC))
        uow.commit()


def periodic(svc: Service) -> None:
    signin.retire_old_keys(svc.uow(), datetime.now(UTC))


if __name__ == "__main__":
    run_worker(build(), subscriptions, on_start, periodic)
