"""The production shape on one machine, without Docker.

Per service a gunicorn API process and a worker process, against RabbitMQ and
PostgreSQL (started locally from the Debian packages unless URLs are given),
behind an nginx gateway that serves the same path prefixes as in compose.
Used by ``onestop run-stack``, the e2e/fault tests and the benchmark.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import DIRECTORY, SERVICES, explicit_infrastructure
from shared.localservers import (
    DATABASES,
    Postgres,
    RabbitMQ,
    free_port,
    terminate,
    wait_port,
)

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    base: Path
    broker_url: str | None = None
    database_urls: dict[str, str] = field(default_factory=dict)
    gunicorn_workers: int = 2
    gunicorn_threads: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    pg: Postgres | None = None
    mq: RabbitMQ | None = None
    api_ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # infrastructure --------------------------------------------------------
    def start_infra(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # the postgres and rabbitmq users work below it
        if not self.database_urls:
            self.pg = Postgres(base=self.base / "postgres").start()
            self.database_urls = {n: self.pg.url(n) for n in DATABASES}
        if not self.broker_url:
            self.mq = RabbitMQ(base=self.base / "rabbitmq", management_port=free_port()).start()
            self.broker_url = self.mq.url
            self.extra_env.setdefault("ONESTOP_BROKER_ADMIN_URL", self.mq.admin_url or "")

    def env(self, name: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
        env.update(
            {
                "ONESTOP_DATA_DIR": str(self.base / "data"),
                "ONESTOP_BROKER_URL": self.broker_url or "",
                "ONESTOP_SWEEP_INTERVAL": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for db in (DIRECTORY, *SERVICES):
            env[f"ONESTOP_{db.upper()}_DATABASE_URL"] = self.database_urls[db]
        if name:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.base / "metrics" / name)
        env.update(self.extra_env)
        return env

    def onestop(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "shared.cli", *args],
            env=self.env(),
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def prepare(self) -> None:
        self.onestop("migrate")
        self.onestop("seed-demo")

    # processes ---------------------------------------------------------------
    def _spawn(self, key: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        logdir = self.base / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        with open(logdir / f"{key}.log", "ab") as log:  # the child keeps its own fd
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[key] = proc
        return proc

    def start_api(self, name: str, app: str | None = None) -> int:
        port = self.api_ports.get(name) or free_port()
        self.api_ports[name] = port
        env = self.env(name)
        env.update(
            {
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_WORKERS": str(self.gunicorn_workers),
                "GUNICORN_THREADS": str(self.gunicorn_threads),
            }
        )
        target = app or f"services.{name}.app:create_app()"
        proc = self._spawn(
            f"{name}-api",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                target,
            ],
            env,
        )
        wait_port(port, 60, proc)
        return port

    def start_worker(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            f"{name}-worker",
            [sys.executable, "-m", f"services.{name}.worker"],
            {**self.env(), **env},
        )

    def start_gateway(self, port: int) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise RuntimeError("nginx not found: apt-get install nginx")
        gw = self.base / "gateway"
        gw.mkdir(parents=True, exist_ok=True)
        template = (ROOT / "deploy" / "nginx.local.conf.template").read_text()
        conf = template.format(
            base=gw, port=port, **{f"{n}_port": self.api_ports[n] for n in SERVICES}
        )
        (gw / "nginx.conf").write_text(conf)
        proc = self._spawn(
            "gateway", [nginx, "-c", str(gw / "nginx.conf"), "-p", str(gw)], dict(os.environ)
        )
        wait_port(port, 20, proc)

    def start(self, *, gateway_port: int | None = None) -> None:
        self.start_infra()
        self.prepare()
        for name in SERVICES:
            self.start_worker(name)
        for name in SERVICES:
            self.start_api(name)
        if gateway_port:
            self.start_gateway(gateway_port)

    def signal(self, key: str, sig: int = signal.SIGTERM, wait: float = 30) -> int | None:
        """Stop a process with ``sig`` (SIGKILL after ``wait``); its exit code."""
        return terminate(self.procs[key], sig, wait)

    def freeze(self, key: str) -> None:
        """SIGSTOP a process (it holds its connections and deliveries, doing nothing)."""
        os.killpg(self.procs[key].pid, signal.SIGSTOP)

    def thaw(self, key: str) -> None:
        os.killpg(self.procs[key].pid, signal.SIGCONT)

    def stop(self) -> None:
        order = [k for k in self.procs if k.endswith("-api") or k == "gateway"]
        order += [k for k in self.procs if k not in order]
        for key in order:
            self.signal(key)
        if self.mq:
            self.mq.stop()
        if self.pg:
            self.pg.stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def run_stack(base: Path, port: int) -> None:
    """Foreground: start everything, print where it is, stop on Ctrl-C/SIGTERM."""
    broker, urls = explicit_infrastructure()
    stack = Stack(base=base, broker_url=broker, database_urls=urls)
    stopping = {"flag": False}

    def _stop(signum: int, _frame: object) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start(gateway_port=port)
        print(f"onestop stack on http://127.0.0.1:{port} (gateway); APIs: {stack.api_ports}")
        print(f"broker {stack.broker_url}; logs in {base / 'logs'}")
        print((base / "data" / "demo-credentials.json").read_text(), flush=True)
        while not stopping["flag"]:
            for key, proc in stack.procs.items():
                if proc.poll() is not None:
                    print(f"{key} exited with {proc.returncode}; stopping", flush=True)
                    stopping["flag"] = True
            time.sleep(0.5)
    finally:
        stack.stop()
