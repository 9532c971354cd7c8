"""Throwaway RabbitMQ and PostgreSQL servers on loopback, from the Debian packages.

Used by the test suite (integration, e2e and fault tests), ``make run-stack``
and ``make bench``: each server gets free ports and its own data directory,
runs as the package's system user when we are root, and can be stopped and
started again on the same data (a broker outage keeps durable queues).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
EPMD = "/usr/bin/epmd"
DATABASES = ("directory", "intake", "dispatch", "visits", "scoring", "archive")


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode} before port {port} opened")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ServerError(f"port {port} did not open within {timeout}s")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(proc: subprocess.Popen[bytes] | None, sig: int, wait: float) -> int | None:
    """Signal a process group, wait for the whole group (a wrapper such as ``runuser``
    may exit before the server it started lets go of its ports), then SIGKILL what
    lingers; the leader's exit code."""
    if proc is None:
        return None
    pgid = proc.pid
    code = proc.poll()
    if code is None:
        os.killpg(pgid, sig)
        try:
            code = proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            code = proc.wait(10)
    deadline = time.monotonic() + wait
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
    return code


def _as_user(user: str, argv: list[str], env: dict[str, str]) -> list[str]:
    envs = [f"{k}={v}" for k, v in env.items()]
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", "env", *envs, *argv]
    return ["env", *envs, *argv]


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            for n in [
                root,
                *(os.path.join(root, d) for d in dirs),
                *(os.path.join(root, f) for f in files),
            ]:
                os.chown(n, pw.pw_uid, pw.pw_gid)


class LocalServer:
    """Stopping a local server (its data is kept), crashing it, and throwing it away.
    Subclasses are dataclasses with ``proc`` and ``base``."""

    STOP_SIGNAL = signal.SIGTERM
    STOP_WAIT = 30.0
    proc: subprocess.Popen[bytes] | None
    base: Path

    def stop(self) -> None:
        """Shut down cleanly; the data directory is kept for the next start."""
        terminate(self.proc, self.STOP_SIGNAL, self.STOP_WAIT)
        self.proc = None

    def kill(self) -> None:
        """A crash: SIGKILL to the server and every process it started, at once."""
        terminate(self.proc, signal.SIGKILL, 30)
        self.proc = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class Postgres(LocalServer):
    """``initdb`` + ``postgres`` on a free port; one database per service.

    ``durable`` (the default, and what the production shape, the fault tests and the
    benchmarks run) keeps PostgreSQL's crash safety: ``fsync`` and
    ``synchronous_commit`` on, so a commit acknowledged to a service survives a crash
    of the server. ``durable=False`` turns them off for speed, and is only for test
    servers whose data nobody needs after a crash (the suite's shared throwaway
    server, which is never killed).
    """

    port: int = field(default_factory=free_port)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="onestop-pg-")))
    user: str = "postgres"
    durable: bool = True
    proc: subprocess.Popen[bytes] | None = None
    STOP_SIGNAL = signal.SIGINT  # PostgreSQL's fast shutdown

    def _settings(self) -> list[str]:
        switch = "on" if self.durable else "off"
        options = [
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.base}",
            "max_connections=300",
            *(f"{name}={switch}" for name in ("fsync", "synchronous_commit", "full_page_writes")),
        ]
        return [arg for option in options for arg in ("-c", option)]

    @staticmethod
    def available() -> bool:
        return bool(glob.glob(PG_BIN_GLOB + "/postgres"))

    @property
    def bindir(self) -> str:
        found = sorted(glob.glob(PG_BIN_GLOB))
        if not found:
            raise ServerError("PostgreSQL server binaries not found: apt-get install postgresql")
        return found[-1]

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://onestop@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> Postgres:
        data = self.base / "data"
        if not data.exists():
            self.base.mkdir(parents=True, exist_ok=True)
            self.base.chmod(0o755)
            _chown(self.base, self.user)
            subprocess.run(
                _as_user(
                    self.user,
                    [
                        f"{self.bindir}/initdb",
                        "-D",
                        str(data),
                        "-U",
                        "onestop",
                        "--auth=trust",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ],
                    {},
                ),
                check=True,
                capture_output=True,
            )
        with open(self.base / "postgres.log", "ab") as log:  # the child keeps its own fd
            self.proc = subprocess.Popen(
                _as_user(
                    self.user,
                    [
                        f"{self.bindir}/postgres",
                        "-D",
                        str(data),
                        "-p",
                        str(self.port),
                        *self._settings(),
                    ],
                    {},
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self.port, 60, self.proc)
        self._create_databases()
        return self

    def _create_databases(self) -> None:
        for name in DATABASES:
            self.create_database(name)

    def create_database(self, name: str) -> str:
        """Create a database if it is missing (tests use fresh ones); returns its URL."""
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user=onestop dbname=postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            have = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            if name not in have:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class RabbitMQ(LocalServer):
    """A RabbitMQ node with its own name, ports and mnesia directory, on loopback only
    (AMQP, management, Erlang distribution and epmd). Started again with the same
    ``name`` and ``base`` it is the same node: durable queues and persistent messages
    survive a stop and a crash.

    The node registers with an epmd of its own on ``epmd_port`` (``ERL_EPMD_PORT``), not
    the machine's shared one on 4369: an epmd some other Erlang program started first
    (the Debian ``rabbitmq-server`` service does, on every interface) would otherwise
    hold this node's name, and outlive it. A clean ``stop`` ends that epmd as well; a
    crash (``kill``) leaves it running, as a crash on a real machine does."""

    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    management_port: int = 0
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="onestop-mq-")))
    user: str = "rabbitmq"
    name: str = ""  # the node's name before @localhost (default: onestop<port>)
    cookie: str = ""  # the Erlang cookie (the nodes of a cluster share one; default: its own)
    proc: subprocess.Popen[bytes] | None = None
    STOP_WAIT = 60.0

    @staticmethod
    def available() -> bool:
        return os.path.exists(RABBIT_SERVER)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def admin_url(self) -> str | None:
        """The management HTTP API (agency broker users are provisioned through it)."""
        if not self.management_port:
            return None
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    @property
    def nodename(self) -> str:
        return f"{self.name or f'onestop{self.port}'}@localhost"

    def _env(self) -> dict[str, str]:
        plugins = "[rabbitmq_management]." if self.management_port else "[]."
        (self.base / "enabled_plugins").write_text(plugins + "\n")
        conf = ["loopback_users.guest = true", "log.console = false", "log.file.level = warning"]
        if self.management_port:
            conf.append(f"management.tcp.port = {self.management_port}")
            conf.append("management.tcp.ip = 127.0.0.1")
        (self.base / "rabbitmq.conf").write_text("\n".join(conf) + "\n")
        (self.base / "rabbitmq-env.conf").write_text("")
        # Erlang distribution (the CLI tools' port) on loopback too, not 0.0.0.0
        (self.base / "advanced.config").write_text(
            "[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}].\n"
        )
        return {
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbit.pid"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }

    def _write_cookie(self) -> None:
        """The cookie in the node's home (``HOME`` is ``base``), where both the server and
        ``rabbitmqctl`` read it; Erlang wants it readable by its owner only."""
        path = self.base / ".erlang.cookie"
        if self.cookie and (not path.exists() or path.read_text() != self.cookie):
            path.unlink(missing_ok=True)
            path.write_text(self.cookie)
        if path.exists():
            path.chmod(0o400)

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n <this node> args…`` (as the node's user, with its cookie; the
        CLI's own Erlang distribution listener on loopback too); its output."""
        env = {
            "HOME": str(self.base),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_ZFLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        out = subprocess.run(
            _as_user(self.user, [RABBITMQCTL, "-q", "-n", self.nodename, *args], env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self.base),
        )
        if out.returncode != 0:
            raise ServerError(f"rabbitmqctl {' '.join(args)}: {out.stderr.strip() or out.stdout}")
        return out.stdout

    def stop(self) -> None:
        super().stop()
        self.stop_epmd()

    def stop_epmd(self) -> None:
        """End this node's epmd. epmd refuses while a node is still registered with it
        (the other nodes of a cluster sharing it), and it is gone already if none ran."""
        if os.path.exists(EPMD):
            subprocess.run(
                [EPMD, "-port", str(self.epmd_port), "-kill"],
                capture_output=True,
                timeout=10,
                env={"ERL_EPMD_ADDRESS": "127.0.0.1", "PATH": os.environ.get("PATH", "")},
            )

    def start(self, timeout: float = 120) -> RabbitMQ:
        if not self.available():
            raise ServerError("rabbitmq-server not found: apt-get install rabbitmq-server")
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        env = self._env()
        self._write_cookie()
        _chown(self.base, self.user)
        with open(self.base / "server.log", "ab") as log:  # the child keeps its own fd
            self.proc = subprocess.Popen(
                _as_user(self.user, [RABBIT_SERVER], env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(self.base),
            )
        wait_port(self.port, timeout, self.proc)
        self._wait_amqp(timeout)
        if self.management_port:
            wait_port(self.management_port, timeout, self.proc)
        return self

    def _wait_amqp(self, timeout: float) -> None:
        from kombu import Connection

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Connection(self.url, connect_timeout=2) as c:
                    c.ensure_connection(max_retries=1)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


@dataclass
class RabbitCluster:
    """``size`` RabbitMQ nodes on loopback clustered together: each with its own node
    name, AMQP and distribution ports and data directory, all sharing one Erlang cookie
    (``rabbitmqctl join_cluster``). ``url`` lists every node (kombu's failover URL,
    ``amqp://a;amqp://b;…``): a client whose node dies connects to the next one.
    Quorum queues declared on it are replicated on every node."""

    size: int = 3
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="onestop-mqc-")))
    nodes: list[RabbitMQ] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ";".join(n.url for n in self.nodes)

    def start(self, timeout: float = 180) -> RabbitCluster:
        import secrets
        from concurrent.futures import ThreadPoolExecutor

        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        if not self.nodes:
            cookie = secrets.token_hex(16).upper()
            tag = free_port()
            epmd = free_port()  # one epmd the nodes find each other through
            self.nodes = [
                RabbitMQ(
                    base=self.base / f"node{i}",
                    name=f"onestop-c{tag}-{i}",
                    cookie=cookie,
                    epmd_port=epmd,
                )
                for i in range(self.size)
            ]
        with ThreadPoolExecutor(self.size) as pool:  # each boot takes seconds: in parallel
            list(pool.map(lambda n: n.start(timeout), self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            if first.nodename not in node.ctl("cluster_status", "--formatter", "json"):
                node.ctl("stop_app")
                node.ctl("join_cluster", first.nodename)
                node.ctl("start_app")
                node._wait_amqp(timeout)
        self.wait_running(len(self.nodes), timeout)
        return self

    def running_nodes(self, via: RabbitMQ | None = None) -> list[str]:
        import json

        node = via or next(n for n in self.nodes if n.running())
        status = json.loads(node.ctl("cluster_status", "--formatter", "json"))
        return sorted(status.get("running_nodes", []))

    def wait_running(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.running_nodes()) < count:
            if time.monotonic() > deadline:
                raise ServerError(f"fewer than {count} nodes running: {self.running_nodes()}")
            time.sleep(0.5)

    @property
    def url_node(self) -> str:
        """The node clients try first (the first of ``url``)."""
        return self.nodes[0].nodename

    def node(self, nodename: str) -> RabbitMQ:
        return next(n for n in self.nodes if n.nodename == nodename)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
