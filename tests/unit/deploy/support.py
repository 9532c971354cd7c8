"""What the deploy tests share: the repository's deploy/ folder and its tools.

promtool and amtool come from the Debian packages ``prometheus`` and
``prometheus-alertmanager`` (.ci/run installs them): without them a test skips
locally and fails under CI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import need

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, PACKAGES.get(name, name))
    assert path is not None
    return path


def run(*argv: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=120
    )
