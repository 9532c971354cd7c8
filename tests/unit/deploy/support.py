"""What the deployment tests share: the repository's paths, the settings the code reads, and
the Prometheus tools.

promtool and amtool come from the Debian packages ``prometheus`` and
``prometheus-alertmanager`` (.ci/run installs them): without them a test skips
locally and fails under CI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from shared.config import SERVICES
from tests.support import need

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def known_settings() -> set[str]:
    """Every environment variable the code or the image reads: the quoted names in
    shared/config.py and deploy/gunicorn.conf.py, the database URL of each service (built
    from SERVICES), and the ${NAME}s of the Dockerfile."""
    names: set[str] = set()
    for path in (ROOT / "shared" / "config.py", DEPLOY / "gunicorn.conf.py"):
        names |= set(
            re.findall(r"\"((?:ONESTOP|GUNICORN|PROMETHEUS)_[A-Z0-9_]+)\"", path.read_text())
        )
    names |= {f"ONESTOP_{s.upper()}_DATABASE_URL" for s in SERVICES}
    names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (DEPLOY / "Dockerfile").read_text()))
    names |= {"PORT"}  # load_settings reads PORT (onestop run)
    return names


def tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, PACKAGES.get(name, name))
    assert path is not None
    return path


def run(*argv: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (parsed, not pattern-matched)."""
    import promql_parser

    names: set[str] = set()

    def walk(node: object) -> None:
        if type(node).__name__ == "VectorSelector":
            names.add(node.name)  # type: ignore[attr-defined]
        for attr in dir(node):
            if attr.startswith("_") or attr in ("parse", "prettify"):
                continue
            value = getattr(node, attr)
            for child in value if isinstance(value, list) else [value]:
                if hasattr(child, "prettify"):
                    walk(child)

    walk(promql_parser.parse(expr))
    return names
