"""deploy/gunicorn.conf.py: gunicorn's control socket is off (issue 17).

gunicorn 25.1+ opens a control socket for ``gunicornc`` unless told not to, in
``$XDG_RUNTIME_DIR`` or ``~/.gunicorn/``. The API processes must not.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gunicorn.config import KNOWN_SETTINGS

from onestop.localservers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"


def test_the_conf_turns_off_a_setting_gunicorn_knows():
    conf = runpy.run_path(str(CONF))
    assert conf["control_socket_disable"] is True
    known = {s.name for s in KNOWN_SETTINGS}
    assert "control_socket_disable" in known  # not a name gunicorn would ignore
    settings = {k for k in conf if not k.startswith("_") and not callable(conf[k])} - {"os"}
    assert settings <= known, settings - known


def _sockets_after_start(conf: Path, home: Path) -> list[Path]:
    """Start gunicorn with ``conf`` and HOME=``home``; the control sockets it made."""
    (home / "app.py").write_text(APP)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update({"HOME": str(home), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf), "--chdir", str(home), "app:app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, 30, proc)
        time.sleep(1.0)  # the arbiter opens the socket after binding
        return list(home.rglob("*.ctl"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_gunicorn_with_the_conf_leaves_no_socket_in_home(tmp_path):
    assert _sockets_after_start(CONF, tmp_path) == []


@pytest.mark.timeout(120)
def test_without_the_setting_gunicorn_would_open_one(tmp_path):
    """The check above can fail: the same conf without the line opens ~/.gunicorn/*.ctl."""
    text = CONF.read_text().replace("control_socket_disable = True", "")
    conf = tmp_path / "old.conf.py"
    conf.write_text(text)
    home = tmp_path / "home"
    home.mkdir()
    assert [p.relative_to(home).as_posix() for p in _sockets_after_start(conf, home)] == [
        ".gunicorn/gunicorn.ctl"
    ]
