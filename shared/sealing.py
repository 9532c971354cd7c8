"""Secrets a service must read back — the directory's TOTP seeds and private signing keys,
intake's callback signing secrets — sealed at rest (Fernet: AES-128-CBC with HMAC-SHA256,
from ``cryptography``).

Passwords, API keys and refresh tokens are only ever hashed; these cannot be, so they are
encrypted under keys that never enter a database: ``ONESTOP_SECRET_KEYS`` (Fernet keys,
comma-separated: the first seals, all open — a new key is added first, then the old one
dropped once nothing sealed with it remains), else a key the service makes once in its data
directory (``<service>-secret.key``, mode 0600: the embedded default and run-stack, where a
service's API and worker processes share the data directory). A value stored before sealing
existed opens as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import Settings

PREFIX = "sealed:v1:"


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("a sealer needs at least one key")
        self._box = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, text: str) -> str:
        return PREFIX + self._box.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret; a value from before sealing as it is; ``ValueError`` for one sealed
        under a key this sealer does not hold."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._box.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise ValueError("a sealed secret no configured key opens") from None


def key_file(data_dir: Path, name: str) -> str:
    """A service's own key in its data directory (``name``), made once (0600). Several
    processes may start at once (an API's workers and the worker): the first link wins, the
    others read what it wrote."""
    path = data_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode())
        try:
            os.link(tmp, path)  # atomic, and never over another process's key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def sealer(settings: Settings, service: str) -> Sealer:
    """A service's sealer: the configured keys, else its own key file."""
    keys = list(settings.secret_keys) or [key_file(settings.data_dir, f"{service}-secret.key")]
    return Sealer(keys)


def throwaway() -> Sealer:
    """A process-local key (tests that never configured one)."""
    return Sealer([Fernet.generate_key().decode()])
