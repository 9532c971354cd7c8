"""What the deployment tests share: the repository's paths and the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from shared.config import SERVICES

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"

# Settings another part of issue 17 adds (JSON logs); deployments set them already.
# Remove a name here once the code that reads it is merged.
PENDING_SETTINGS = {"ONESTOP_LOG_FORMAT"}


def known_settings() -> set[str]:
    """Every environment variable the code or the image reads: the quoted names in
    shared/config.py and deploy/gunicorn.conf.py, the database URL of each service (built
    from SERVICES), the ${NAME}s of the Dockerfile, and PENDING_SETTINGS."""
    names = set(PENDING_SETTINGS)
    for path in (ROOT / "shared" / "config.py", DEPLOY / "gunicorn.conf.py"):
        names |= set(
            re.findall(r"\"((?:ONESTOP|GUNICORN|PROMETHEUS)_[A-Z0-9_]+)\"", path.read_text())
        )
    names |= {f"ONESTOP_{s.upper()}_DATABASE_URL" for s in SERVICES}
    names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (DEPLOY / "Dockerfile").read_text()))
    names |= {"PORT"}  # load_settings reads PORT (onestop run)
    return names
