"""The production shape on one machine, without Docker.

Per service a gunicorn API process and a worker process, against RabbitMQ and
PostgreSQL (started locally from the Debian packages unless URLs are given),
behind an nginx gateway that serves the same path prefixes as in compose.
Used by ``onestop run-stack``, the e2e/fault tests and the benchmark.

Under ``run-stack`` the stack is *stable* and *supervised*: PostgreSQL and RabbitMQ
keep their ports, node name and data directories under ``var/stack`` across
restarts (``ports.json`` remembers the ports chosen at the first start), so what
was queued or committed before a restart is there after it; a child that dies
(a worker, a gunicorn master, nginx, the servers themselves) is started again
with capped backoff instead of stopping the stack.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from onestop.localservers import (
    DATABASES,
    Postgres,
    RabbitMQ,
    free_port,
    terminate,
    wait_port,
)
from shared.config import SERVICES, explicit_infrastructure

ROOT = Path(__file__).resolve().parent.parent
LOGS = ("ONESTOP_LOG_FORMAT", "ONESTOP_LOG_LEVEL")  # the operator's, passed to every process
log = logging.getLogger(__name__)


def stable_ports(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Ports chosen once (free at the first start) and reused by every later start."""
    ports: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        ports.setdefault(name, free_port())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports, indent=2) + "\n")
    return ports


@dataclass
class Child:
    """How to start one supervised process again."""

    argv: list[str]
    env: dict[str, str]
    restarts: int = 0
    backoff: float = 0.5
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


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
    metrics_ports: dict[str, int] = field(default_factory=dict)  # each worker's /metrics
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # stopped on purpose: not restarted
    supervise_infra: bool = False
    gateway_port: int | None = None
    broker_node: str = "onestop-stack"  # the RabbitMQ node's name (one per machine)
    _server_due: dict[str, list[float]] = field(default_factory=dict)
    _supervisor: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # infrastructure --------------------------------------------------------
    def start_infra(self) -> None:
        """Local PostgreSQL (durable) and RabbitMQ under ``base``, on the ports that
        ``base/ports.json`` remembers: the same servers, node and data at every start."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # the postgres and rabbitmq users work below it
        ports = stable_ports(
            self.base / "ports.json", ("postgres", "amqp", "dist", "management", "epmd")
        )
        if self.pg is None and not self.database_urls:
            self.pg = Postgres(port=ports["postgres"], base=self.base / "postgres")
        if self.pg is not None:
            if not self.pg.running():
                self.pg.start()
            self.database_urls = {n: self.pg.url(n) for n in DATABASES}
        if self.mq is None and not self.broker_url:
            self.mq = RabbitMQ(
                port=ports["amqp"],
                dist_port=ports["dist"],
                epmd_port=ports["epmd"],
                management_port=ports["management"],
                base=self.base / "rabbitmq",
                name=self.broker_node,
            )
        if self.mq is not None:
            if not self.mq.running():
                self.mq.start()
            self.broker_url = self.mq.url
            self.extra_env.setdefault("ONESTOP_BROKER_ADMIN_URL", self.mq.admin_url or "")

    def env(self, name: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_") or k in LOGS}
        env.update(
            {
                "ONESTOP_DATA_DIR": str(self.base / "data"),
                "ONESTOP_BROKER_URL": self.broker_url or "",
                "ONESTOP_SWEEP_INTERVAL": "1",
                "ONESTOP_METRICS_ADDR": "127.0.0.1",  # every listener on loopback
                "PYTHONUNBUFFERED": "1",
            }
        )
        for db in SERVICES:
            env[f"ONESTOP_{db.upper()}_DATABASE_URL"] = self.database_urls[db]
        if name:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.base / "metrics" / name)
        env.update(self.extra_env)
        return env

    def onestop(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "onestop.cli", *args],
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
        with self._lock:
            with open(logdir / f"{key}.log", "ab") as out:  # the child keeps its own fd
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.procs[key] = proc
            self.children[key] = Child(argv, env)
            self.held.discard(key)
        return proc

    # supervision -------------------------------------------------------------
    def supervise(self, interval: float = 0.5) -> None:
        """Restart children that die (capped backoff), on a thread, until ``stop``."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._watch_loop, args=(interval,), name="stack-supervisor", daemon=True
            )
            self._supervisor.start()

    def _watch_loop(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.watch()
            except Exception:
                log.exception("supervisor: restart failed; trying again")

    def watch(self) -> list[str]:
        """One supervision round; the keys started again."""
        now = time.monotonic()
        restarted = []
        with self._lock:
            for key, proc in list(self.procs.items()):
                child = self.children.get(key)
                if child is None or key in self.held or proc.poll() is None:
                    continue
                if child.next_start == 0.0:  # just seen dead: wait the backoff first
                    print(f"{key} exited with {proc.returncode}; restarting", flush=True)
                    child.next_start = now + child.backoff
                    continue
                if now < child.next_start:
                    continue
                terminate(proc, signal.SIGKILL, 5)  # what is left of its process group
                self._spawn(key, child.argv, child.env)
                fresh = self.children[key]
                fresh.restarts = child.restarts + 1
                # dying again soon after a start doubles the wait (up to 30 s)
                stable = now - child.started_at > 60
                fresh.backoff = 0.5 if stable else min(child.backoff * 2, 30.0)
                restarted.append(key)
        if self.supervise_infra:
            for server in (self.pg, self.mq):
                if server is not None and not server.running():
                    restarted += self._restart_server(server, now)
        return restarted

    def _restart_server(self, server: Postgres | RabbitMQ, now: float) -> list[str]:
        """Start a dead server again on its data (what is left of it killed first), with
        the same capped backoff as the processes; a failed start is tried again later."""
        name = type(server).__name__
        due = self._server_due.setdefault(name, [now + 0.5, 0.5])
        if now < due[0]:
            return []
        print(f"{name} is down; restarting it", flush=True)
        try:
            server.kill()  # orphaned backends or an epmd child would hold its ports
            server.start()
        except Exception as exc:
            due[1] = min(due[1] * 2, 30.0)
            due[0] = time.monotonic() + due[1]
            print(f"{name} did not start ({exc}); next try in {due[1]:.0f}s", flush=True)
            return []
        del self._server_due[name]
        return [name]

    def start_api(self, name: str, app: str | None = None, **extra: str) -> int:
        port = self.api_ports.get(name) or free_port()
        self.api_ports[name] = port
        env = {**self.env(name), **extra}
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
        """The worker, serving its own ``/metrics`` on a loopback port of its own."""
        port = self.metrics_ports.get(name) or free_port()
        self.metrics_ports[name] = port
        metrics = {"ONESTOP_METRICS_PORT": str(port)}  # on loopback: env() sets the address
        full = {**self.env(), **metrics, **env}
        full.pop("PROMETHEUS_MULTIPROC_DIR", None)  # an API's: a worker serves its own registry
        argv = [sys.executable, "-m", f"services.{name}.worker"]
        return self._spawn(f"{name}-worker", argv, full)

    def start_gateway(self, port: int) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise RuntimeError("nginx not found: apt-get install nginx")
        gw = self.base / "gateway"
        gw.mkdir(parents=True, exist_ok=True)
        # the web console under "/": it calls the services through this gateway
        self.start_api(
            "console",
            "services.console.app:create_app()",
            ONESTOP_CONSOLE_API_URL=f"http://127.0.0.1:{port}",
        )
        template = (ROOT / "deploy" / "nginx.local.conf.template").read_text()
        conf = template.format(
            base=gw,
            port=port,
            **{f"{n}_port": self.api_ports[n] for n in (*SERVICES, "console")},
        )
        (gw / "nginx.conf").write_text(conf)
        proc = self._spawn(
            "gateway", [nginx, "-c", str(gw / "nginx.conf"), "-p", str(gw)], dict(os.environ)
        )
        wait_port(port, 20, proc)

    def start(self, *, gateway_port: int | None = None) -> None:
        """Start (or start again, on the same ports and data) the whole stack."""
        self._stopping.clear()
        self.start_infra()
        self.prepare()
        # the workers' metrics ports, kept across restarts (an operator's scrape targets)
        ports = stable_ports(self.base / "metrics-ports.json", SERVICES)
        self.metrics_ports = {**ports, **self.metrics_ports}
        for name in SERVICES:
            self.start_worker(name)
        for name in SERVICES:
            self.start_api(name)
        self.wait_for_copies()
        if gateway_port:
            self.gateway_port = gateway_port
            self.start_gateway(gateway_port)

    def wait_for_copies(self, timeout: float = 60.0) -> None:
        """Until every service knows the demo's keys from the directory's events."""
        import json

        from onestop.seed import wait_for_copies
        from shared.config import load_settings

        creds = json.loads((self.base / "data" / "demo-credentials.json").read_text())
        try:
            wait_for_copies(load_settings(self.env()), creds, timeout)
        except TimeoutError as exc:  # say what the late services' workers last wrote
            late = [s for s in SERVICES if f"{s}:" in str(exc)]
            raise TimeoutError(f"{exc}\n{self.log_tails(f'{s}-worker' for s in late)}") from None

    def log_tails(self, keys: Iterable[str], lines: int = 30) -> str:
        """The last ``lines`` lines of each process's log (``logs/<key>.log``)."""
        tails = []
        for key in keys:
            path = self.base / "logs" / f"{key}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            tails.append(f"--- {path}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(tails)

    def signal(self, key: str, sig: int = signal.SIGTERM, wait: float = 30) -> int | None:
        """Stop a process group with ``sig`` (SIGKILL after ``wait``); its exit code. The
        supervisor leaves it stopped until it is started again."""
        with self._lock:
            self.held.add(key)
        return terminate(self.procs[key], sig, wait)

    def kill(self, key: str, *, group: bool = True) -> None:
        """A crash: SIGKILL to the process (and its group); the supervisor restarts it."""
        pid = self.procs[key].pid
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)

    def freeze(self, key: str) -> None:
        """SIGSTOP a process (it holds its connections and deliveries, doing nothing)."""
        os.killpg(self.procs[key].pid, signal.SIGSTOP)

    def thaw(self, key: str) -> None:
        os.killpg(self.procs[key].pid, signal.SIGCONT)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(10)
            self._supervisor = None
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
    """Foreground: start everything, print where it is, restart what dies, stop on
    Ctrl-C/SIGTERM. Started again on the same ``base``, it is the same platform."""
    broker, urls = explicit_infrastructure()
    stack = Stack(base=base, broker_url=broker, database_urls=urls, supervise_infra=True)
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start(gateway_port=port)
        print(f"onestop stack on http://127.0.0.1:{port} (gateway); APIs: {stack.api_ports}")
        print(
            "metrics: each API at http://127.0.0.1:<its port>/metrics, each worker at "
            f"http://127.0.0.1:<port>/metrics: {stack.metrics_ports}"
        )
        print(f"broker {stack.broker_url}; data and logs in {base}")
        print((base / "data" / "demo-credentials.json").read_text(), flush=True)
        while not stopping.wait(0.5):
            try:
                stack.watch()
            except Exception as exc:  # a restart that failed is tried again next round
                print(f"supervisor: {exc}", flush=True)
    finally:
        stack.stop()
