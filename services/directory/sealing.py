"""The directory's sealer: a person's TOTP seed and a signing key's private half are sealed
at rest (``shared.sealing``) under ``ONESTOP_SECRET_KEYS``, else a key the directory makes
once in its data directory (``directory-secret.key``)."""

from __future__ import annotations

from shared import sealing
from shared.config import Settings
from shared.sealing import PREFIX, Sealer

__all__ = ["KEY_FILE", "PREFIX", "Sealer", "configure", "current"]

KEY_FILE = "directory-secret.key"

_current: Sealer | None = None


def configure(settings: Settings) -> Sealer:
    """The directory's sealer, from the settings (``services.directory.build`` calls it)."""
    global _current
    _current = sealing.sealer(settings, "directory")
    return _current


def current() -> Sealer:
    """The configured sealer (a process-local key when none was configured: tests)."""
    global _current
    if _current is None:
        _current = sealing.throwaway()
    return _current
