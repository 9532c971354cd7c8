"""Issue 14's P1 and P2 against the peer an office would pick instead: django-helpdesk
2.6.1 creating tickets through its REST API (``POST /api/tickets/``), side by side with
onestop on the same machine, the same PostgreSQL server, the same gunicorn settings and
the same load generator.

* The peer's packages (``bench/peer/requirements.txt``, pinned) go into a venv under
  /tmp made by this bench (kept for the next run while the pins are the same;
  ``--fresh-venv`` makes it again); its Django project is ``bench/peer`` (settings,
  URLs, and ``prepare``: migrate, a staff user with a DRF token, a queue).
* One durable PostgreSQL (``fsync`` and ``synchronous_commit`` on) holds onestop's
  databases and the peer's; onestop's stack (``onestop.stack.Stack``: gunicorn gthread
  APIs, a worker per service, RabbitMQ) and the peer's gunicorn both run
  ``deploy/gunicorn.conf.py`` with the same workers and threads.
* ``wrk`` (``apt-get install -y wrk``) drives both, with ``bench.intake_bench``'s Lua
  script and runner for intake and a Lua script posting the same title and description
  as a ticket for the peer; rounds interleave the two sides, alternating the order.

Two phases, each with the peer's runs interleaved:

* **P2** (first, every worker running): a closed-loop wrk run on intake, then the wait
  until every consumer queue is empty and every process idle again; sustained
  end-to-end demands/s = accepted ÷ (run + drain), CPU per demand = what every process
  (APIs, workers, PostgreSQL, RabbitMQ) spent from the start of the run to the end of
  the drain ÷ accepted. The drain-inclusive rate is what the consumers keep up with;
  a longer ``--e2e-seconds`` (the issue asks for 10 minutes) makes it steadier.
* **P1** (then the workers frozen, as in ``bench.intake_bench``): the intake API alone
  accepting demands, without and with an ``Idempotency-Key`` (``plain``, ``keys``).
  The peer does not deduplicate; ``plain`` is the like-for-like figure.

Then, with the peer idle:

* **P4**: the backlog P1 left on the broker (the relay published every demand P1
  accepted; the workers were frozen) worked off once the workers thaw — deliveries
  acknowledged/s through every consumer, the cascade included — ÷ raw pika publishing
  and consuming as many messages of an event's size on the same broker (``bench.drain``).
* **P3**: 201 → ``assignment.made`` consumed, p50/p95/p99, offered open-loop at the P2
  median rate for ``--p3-seconds`` (``bench.stack_bench.latency``).

Prints one JSON report: each run, the medians, the ratios against the goals, CPU per
demand or ticket by process, the exact commands and the machine's load. Figures are
printed, never asserted. Usage::

    python -m bench.peer_bench                                # about 5 minutes
    python -m bench.peer_bench --rounds 5 --seconds 20 --e2e-seconds 600
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import drain, intake_bench, stack_bench
from bench.intake_bench import DEMAND, _cpu_seconds, settle, wrk
from onestop.localservers import Postgres, free_port, terminate, wait_port
from onestop.stack import Stack

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
REQUIREMENTS = HERE.parent / "peer" / "requirements.txt"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
PEER_PATH = "/api/tickets/"

# The peer's request: the demand's title and description as a ticket of the bench's queue
# (``-- <token>``; the run and mode arguments that intake_bench.wrk passes are ignored).
PEER_LUA = """
function init(args)
  token = args[1]
end
function request()
  local h = {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}
  return wrk.format("POST", "%(path)s", h, '%(body)s')
end
"""


def _lua_string(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False).replace("'", "\\'")


class _Fill(dict[str, str]):
    """Values for intake_bench's Lua template; a placeholder it may add later is blank."""

    def __missing__(self, key: str) -> str:
        return ""


def intake_lua() -> str:
    """intake_bench's Lua script, filled in as intake_bench fills it."""
    spread = [
        {**DEMAND, "enterprise": {"credit_code": code, "name": name}}
        for code, name in getattr(intake_bench, "SPREAD", [])
    ]
    return intake_bench.LUA % _Fill(
        path=intake_bench.PATH,
        body=_lua_string(DEMAND),
        spread=", ".join(f"'{_lua_string(b)}'" for b in spread),
    )


def ticket(queue: int) -> dict[str, Any]:
    return {
        "queue": queue,
        "title": DEMAND["title"],
        "description": DEMAND["description"],
        "priority": 3,
    }


# -- the peer -------------------------------------------------------------------------
def peer_venv(path: Path | None, fresh: bool) -> Path:
    """A venv with the peer's pinned packages: made once per content of the pins (under
    /tmp unless ``path``), reused while they stay the same."""
    pins = REQUIREMENTS.read_bytes()
    digest = hashlib.sha256(pins).hexdigest()[:12]
    venv = path or Path(tempfile.gettempdir()) / f"onestop-peer-venv-{digest}"
    stamp = venv / ".installed"
    if fresh or not stamp.exists() or stamp.read_text() != digest:
        shutil.rmtree(venv, ignore_errors=True)
        print(f"installing the peer into {venv} …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        stamp.write_text(digest)
    return venv


@dataclass
class Peer:
    """django-helpdesk under gunicorn on the bench's PostgreSQL (database ``helpdesk``)."""

    venv: Path
    pg: Postgres
    base: Path
    workers: int
    threads: int
    port: int = field(default_factory=free_port)
    token: str = ""
    queue: int = 0
    argv: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONESTOP_", "PROM"))}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "DJANGO_SETTINGS_MODULE": "bench.peer.settings",
                "PEER_DB_PORT": str(self.pg.port),
                "PEER_MEDIA_ROOT": str(self.base / "media"),
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": str(self.workers),
                "GUNICORN_THREADS": str(self.threads),
            }
        )
        return env

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.pg.create_database("helpdesk")
        python = str(self.venv / "bin" / "python")
        out = subprocess.run(
            [python, "-m", "bench.peer.prepare"],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        made = json.loads(out.stdout.strip().splitlines()[-1])
        self.token, self.queue = made["token"], made["queue"]
        target = "django.core.wsgi:get_wsgi_application()"
        self.argv = [python, "-m", "gunicorn", "-c", str(GUNICORN_CONF), target]
        with open(self.base / "gunicorn.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self.port, 60, self.proc)
        self.check()

    def check(self) -> None:
        """One ticket through the API: 201, or the bench stops with the peer's answer."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{PEER_PATH}",
            data=json.dumps(ticket(self.queue)).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        if status != 201:
            raise RuntimeError(f"the peer answered {status}: {body[:500]!r}")

    def stop(self) -> None:
        terminate(self.proc, 15, 30)
        self.proc = None


# -- onestop --------------------------------------------------------------------------
def onestop_pids(stack: Stack) -> dict[str, int]:
    """Every process tree of the stack: APIs, workers, PostgreSQL, RabbitMQ."""
    pids = {k: p.pid for k, p in stack.procs.items()}
    if stack.pg and stack.pg.proc:
        pids["postgresql"] = stack.pg.proc.pid
    if stack.mq and stack.mq.proc:
        pids["rabbitmq"] = stack.mq.proc.pid
    return pids


def consumer_queues(stack: Stack) -> list[str]:
    """The broker's durable queues that something consumes (not the agencies' own, nor the
    dead-letter queues), from the management API."""
    assert stack.mq is not None and stack.mq.management_port
    auth = base64.b64encode(b"guest:guest").decode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{stack.mq.management_port}/api/queues?columns=name,durable,"
        "exclusive,consumers",
        headers={"Authorization": f"Basic {auth}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        queues = json.load(r)
    return sorted(
        q["name"]
        for q in queues
        if q.get("durable")
        and not q.get("exclusive")
        and q.get("consumers")
        and not q["name"].endswith(".dlq")
    )


def wait_drained(stack: Stack, queues: list[str], timeout: float = 600.0) -> float:
    """Until every consumer queue is empty and the stack's services idle (under 50 ms of
    CPU in half a second, all together: nothing being applied, relayed or acknowledged);
    returns the monotonic time that was first seen. Raises on ``timeout``."""
    from shared.messaging import connect

    services = {k: p.pid for k, p in stack.procs.items()}
    deadline = time.monotonic() + timeout
    with connect(stack.broker_url or "") as conn:
        ch = conn.default_channel
        before = sum(_cpu_seconds(services).values())
        while time.monotonic() < deadline:
            seen = time.monotonic()
            empty = all(ch.queue_declare(queue=q, passive=True).message_count == 0 for q in queues)
            time.sleep(0.5)
            now = sum(_cpu_seconds(services).values())
            if empty and now - before < 0.05:
                return seen
            before = now
    raise RuntimeError(f"the consumers did not drain within {timeout:g} s")


# -- runs -----------------------------------------------------------------------------
def run(port: int, key: str, mode: str, lua: Path, pids: dict[str, int], a: Any) -> dict:
    """One wrk run with the CPU of ``pids`` per request accepted."""
    cpu0 = _cpu_seconds(pids)
    res = wrk(port, key, mode, a.seconds, a.connections, lua)
    return _with_cpu(res, cpu0, _cpu_seconds(pids))


def _with_cpu(res: dict, cpu0: dict[str, float], cpu1: dict[str, float]) -> dict:
    per = {k: 1000 * (cpu1[k] - cpu0[k]) / max(res["accepted"], 1) for k in cpu1}
    res["cpu_ms_per_request"] = round(sum(per.values()), 2)
    res["cpu_ms_by_process"] = {k: round(v, 2) for k, v in per.items() if v >= 0.005}
    return res


def run_peer(peer: Peer, lua: Path, pg_pid: int, a: Any) -> dict:
    assert peer.proc is not None
    time.sleep(1.0)  # what the run before left to PostgreSQL (a checkpoint) settles
    pids = {"peer-api": peer.proc.pid, "postgresql": pg_pid}
    return run(peer.port, peer.token, "plain", lua, pids, a)


def run_e2e(stack: Stack, key: str, lua: Path, queues: list[str], a: Any) -> dict:
    """Closed-loop demands for ``--e2e-seconds`` with every worker consuming, then the
    drain; demands/s over run + drain, and every process's CPU over the same span."""
    pids = onestop_pids(stack)
    wait_drained(stack, queues)
    cpu0 = _cpu_seconds(pids)
    start = time.monotonic()
    res = wrk(stack.api_ports["intake"], key, "plain", a.e2e_seconds, a.connections, lua)
    loaded = time.monotonic()
    done = wait_drained(stack, queues)
    res = _with_cpu(res, cpu0, _cpu_seconds(pids))
    res["drain_seconds"] = round(done - loaded, 1)
    res["accepted_per_second"] = res.pop("per_second")
    res["per_second"] = round(res["accepted"] / (done - start), 1)
    return res


def drain_backlog(
    stack: Stack, workers: list[str], intake_pids: dict[str, int], queues: list[str]
) -> dict[str, Any]:
    """Thaw the frozen workers and time them working off what waits on the broker."""
    assert stack.mq is not None and stack.mq.management_port
    settle(intake_pids)  # the relay has published everything P1 accepted
    time.sleep(6)  # the management API's statistics (sampled every 5 s) catch up
    port = stack.mq.management_port
    waiting = _waiting(stack, queues)
    acked0 = drain.acked_total(port)
    start = time.monotonic()
    for name in workers:
        stack.thaw(name)
    done = wait_drained(stack, queues, timeout=3600)
    time.sleep(6)
    acked = drain.acked_total(port) - acked0
    res = {
        "waiting_at_thaw": waiting,
        "deliveries": acked,
        "seconds": round(done - start, 1),
        "per_second": round(acked / (done - start), 1),
    }
    _log("P4", 0, "onestop", res)
    return res


def _waiting(stack: Stack, queues: list[str]) -> int:
    from shared.messaging import connect

    with connect(stack.broker_url or "") as conn:
        ch = conn.default_channel
        return sum(ch.queue_declare(queue=q, passive=True).message_count for q in queues)


def sample_event_body() -> bytes:
    """A ``demand.accepted`` event as the relay publishes it: the raw baseline's message."""
    import shared.contracts.intake  # noqa: F401  (registers the schema)
    from shared.events import make_event

    payload = {
        "demand_code": "630102-2026-000001",
        "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
        "category": "technology",
        "title": DEMAND["title"],
        "description": DEMAND["description"],
        "source": "online",
        "consent_to_share": False,
        "accepted_at": "2026-01-05T08:00:00+00:00",
        "accepted_by": "bench",
    }
    ev = make_event("demand.accepted", 1, producer="intake", jurisdiction="630102", payload=payload)
    return ev.to_json().encode()


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def _side(runs: list[dict]) -> dict[str, Any]:
    procs = sorted({p for r in runs for p in r["cpu_ms_by_process"]})
    return {
        "median_per_second": _median(runs, "per_second"),
        "cpu_ms_per_request_median": _median(runs, "cpu_ms_per_request"),
        "cpu_ms_by_process_median": {
            p: round(statistics.median(r["cpu_ms_by_process"].get(p, 0.0) for r in runs), 2)
            for p in procs
        },
        "runs": runs,
    }


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    if not b["median_per_second"]:
        return None
    return round(a["median_per_second"] / b["median_per_second"], 2)


def _cpu_ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """How many of ``a``'s requests the CPU of one of ``b``'s pays for: the ratio a machine
    of one's own would give, whatever the other tenants of this one do."""
    if not a["cpu_ms_per_request_median"]:
        return None
    return round(b["cpu_ms_per_request_median"] / a["cpu_ms_per_request_median"], 2)


def _log(phase: str, r: int, label: str, res: dict) -> None:
    brief = {k: v for k, v in res.items() if k != "cpu_ms_by_process"}
    print(f"{phase} round {r + 1} {label:12} {brief}", file=sys.stderr, flush=True)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(a: argparse.Namespace, venv: Path, base: Path) -> dict[str, Any]:
    pg = Postgres(base=base / "postgres", durable=True)
    stack = Stack(
        base=base / "onestop",
        pg=pg,
        gunicorn_workers=a.workers,
        gunicorn_threads=a.threads,
        broker_node=f"peerbench-{os.getpid()}",
        extra_env=({"ONESTOP_CONSUMER_BATCH": str(a.consumer_batch)} if a.consumer_batch else {}),
    )
    peer = Peer(venv=venv, pg=pg, base=base / "peer", workers=a.workers, threads=a.threads)
    lua_intake, lua_peer = base / "intake.lua", base / "peer.lua"
    lua_intake.write_text(intake_lua())
    lua_peer.write_text(PEER_LUA % {"path": PEER_PATH, "body": ""})
    try:
        pg.start()
        print("starting onestop's stack and the peer …", file=sys.stderr, flush=True)
        stack.start()
        peer.start()
        lua_peer.write_text(PEER_LUA % {"path": PEER_PATH, "body": _lua_string(ticket(peer.queue))})
        creds = json.loads((stack.base / "data" / "demo-credentials.json").read_text())
        key = creds["district"]["key"]
        # spread: the city's staff files for the enterprises of seven jurisdictions
        keys = {"spread": creds["staff"]["key"]}
        assert pg.proc is not None
        pg_pid = pg.proc.pid
        intake_port = stack.api_ports["intake"]
        queues = consumer_queues(stack)
        load_before = _uptime()

        # warm-up (not counted): every gunicorn worker imports and connects
        warm = argparse.Namespace(seconds=3, connections=a.connections)
        run_peer(peer, lua_peer, pg_pid, warm)
        wrk(intake_port, key, "plain", 3, a.connections, lua_intake)

        # P2: every worker running; the peer interleaved
        e2e: list[dict] = []
        peer_p2: list[dict] = []
        for r in range(a.e2e_rounds):
            for label in ("onestop", "peer") if r % 2 == 0 else ("peer", "onestop"):
                if label == "peer":
                    peer_p2.append(run_peer(peer, lua_peer, pg_pid, a))
                    _log("P2", r, "peer", peer_p2[-1])
                else:
                    e2e.append(run_e2e(stack, key, lua_intake, queues, a))
                    _log("P2", r, "onestop e2e", e2e[-1])

        # P1: the workers frozen, the intake API alone; the peer interleaved
        workers = [k for k in stack.procs if k.endswith("-worker")]
        for name in workers:
            stack.freeze(name)
        intake_pids = {
            "intake-api": stack.procs["intake-api"].pid,
            "postgresql": pg_pid,
            **({"rabbitmq": stack.mq.proc.pid} if stack.mq and stack.mq.proc else {}),
        }
        modes = a.modes.split(",")
        p1: dict[str, list[dict]] = {f"intake_{m}": [] for m in modes}
        peer_p1: list[dict] = []
        for r in range(a.rounds):
            labels = [*p1, "peer"]
            for label in labels if r % 2 == 0 else reversed(labels):
                if label == "peer":
                    peer_p1.append(run_peer(peer, lua_peer, pg_pid, a))
                    _log("P1", r, label, peer_p1[-1])
                else:
                    settle(intake_pids)
                    cpu0 = _cpu_seconds(intake_pids)
                    mode = label[len("intake_") :]
                    res = wrk(
                        intake_port, keys.get(mode, key), mode, a.seconds, a.connections, lua_intake
                    )
                    settle(intake_pids)  # the relay's publishing counts for its run
                    res = _with_cpu(res, cpu0, _cpu_seconds(intake_pids))
                    p1[label].append(res)
                    _log("P1", r, label, res)
        # P4: the backlog P1 left on the broker (the relay published it, the workers were
        # frozen) worked off by every consumer; then raw pika with as many messages
        p4 = drain_backlog(stack, workers, intake_pids, queues) if a.drain else None
        for name in workers:
            with contextlib.suppress(OSError):
                stack.thaw(name)
        if p4 is not None:
            body = sample_event_body()
            n = max(1000, min(p4["deliveries"], a.raw_cap))
            pika_url = (stack.broker_url or "").removesuffix("//") + "/%2F"
            p4["raw_pika"] = drain.raw_pika(pika_url, n, body)
            p4["body_bytes"] = len(body)
            _log("P4", 0, "raw pika", p4["raw_pika"])
        # P3: 201 → assignment recorded at the P2 rate (offered open-loop)
        p3 = None
        if e2e and a.p3_seconds > 0:
            rate = max(1.0, round(statistics.median(r["per_second"] for r in e2e), 1))
            wait_drained(stack, queues)
            p3 = stack_bench.latency(stack, key, rate, int(rate * a.p3_seconds))
            _log("P3", 0, f"at {rate:g}/s", p3)
        load_after = _uptime()
        commands = {
            "onestop_intake_api": shlex.join(stack.children["intake-api"].argv),
            "peer_api": shlex.join(peer.argv),
            "gunicorn_env": f"GUNICORN_WORKERS={a.workers} GUNICORN_THREADS={a.threads} "
            "(deploy/gunicorn.conf.py: gthread, keepalive 5, timeout 30)",
            "peer_prepare": f"{venv}/bin/python -m bench.peer.prepare "
            "(DJANGO_SETTINGS_MODULE=bench.peer.settings)",
            "wrk_intake": f"wrk -t2 -c{a.connections} -d{a.seconds:g}s --timeout 30s -s "
            f"{lua_intake} http://127.0.0.1:{intake_port}{intake_bench.PATH} -- <key> <run> "
            "plain|keys",
            "wrk_intake_e2e": f"the same with -d{a.e2e_seconds:g}s, mode plain",
            "wrk_peer": f"wrk -t2 -c{a.connections} -d{a.seconds:g}s --timeout 30s -s "
            f"{lua_peer} http://127.0.0.1:{peer.port}{intake_bench.PATH} -- <token> <run> "
            f"plain (the script's request() posts to {PEER_PATH})",
            "peer_lua": lua_peer.read_text(),
            "intake_lua": "bench/intake_bench.py LUA (the demo demand, the district's key)",
        }
    finally:
        peer.stop()
        stack.destroy()  # stops PostgreSQL too
        pg.destroy()

    sides_p1 = {k: _side(v) for k, v in p1.items()}
    peer1, peer2 = _side(peer_p1), _side(peer_p2) if peer_p2 else None
    onestop2 = _side(e2e) if e2e else None
    p1_ratios = {f"{k}_over_peer": _ratio(v, peer1) for k, v in sides_p1.items()}
    p1_cpu = {f"{k}_over_peer_by_cpu": _cpu_ratio(v, peer1) for k, v in sides_p1.items()}
    table: dict[str, Any] = {
        "P1 intake API accepts/s ÷ peer tickets/s (goal ≥ 5)": p1_ratios.get(
            "intake_plain_over_peer"
        ),
        "P1 the same by CPU per request (peer ÷ intake)": p1_cpu.get(
            "intake_plain_over_peer_by_cpu"
        ),
    }
    if onestop2 and peer2:
        table["P2 sustained end-to-end demands/s ÷ peer (goal ≥ 2)"] = _ratio(onestop2, peer2)
        table["P2 the same by CPU per request (peer ÷ onestop)"] = _cpu_ratio(onestop2, peer2)
        table["P2 CPU ms per demand, all processes (goal ≤ 20)"] = onestop2[
            "cpu_ms_per_request_median"
        ]
    if p3 is not None:
        table["P3 201 → assignment recorded, p99 ms at the P2 rate (goal ≤ 50)"] = p3.get("p99")
    if p4 is not None:
        raw = p4["raw_pika"]["per_second"]
        p4["onestop_over_raw_pika"] = round(p4["per_second"] / raw, 2) if raw else None
        table["P4 event drain through all consumers ÷ raw pika (goal ≥ 0.5)"] = p4[
            "onestop_over_raw_pika"
        ]
    return {
        "table": table,
        "load": {"before": load_before, "after": load_after, "cpus": os.cpu_count()},
        "shape": {
            "postgresql": "one local server for both sides, durable (fsync, synchronous_commit "
            "on); onestop's databases and the peer's 'helpdesk'",
            "gunicorn": {"workers": a.workers, "threads": a.threads, "worker_class": "gthread"},
            "onestop": "onestop.stack.Stack: an API and a worker per service, RabbitMQ",
            "peer": "django-helpdesk 2.6.1 (bench/peer/requirements.txt), POST /api/tickets/ "
            "with a DRF token, persistent connections (CONN_MAX_AGE 600), no e-mail",
            "client": f"wrk -t2 -c{a.connections}; {a.seconds:g} s per P1 run and peer run, "
            f"{a.e2e_seconds:g} s per end-to-end run (+ its drain)",
            "rounds": {"P1": a.rounds, "P2": a.e2e_rounds},
            "consumer_batch": a.consumer_batch or "default (50)",
            "consumer_queues": queues,
        },
        "P1": {
            "what": "demands accepted/s by the intake API alone (workers frozen) ÷ tickets "
            "created/s by the peer; plain: no Idempotency-Key (like the peer), keys: one each, "
            "spread: the city's staff filing in seven jurisdictions (seven number sequences)",
            **p1_ratios,
            **p1_cpu,
            "goal": 5,
            "intake": sides_p1,
            "peer": peer1,
        },
        "P2": {
            "what": "demands/s accepted and worked off by every consumer, over run + drain, "
            "÷ tickets/s by the peer in the same phase; CPU of every process per demand",
            "onestop_over_peer": _ratio(onestop2, peer2) if onestop2 and peer2 else None,
            "onestop_over_peer_by_cpu": (
                _cpu_ratio(onestop2, peer2) if onestop2 and peer2 else None
            ),
            "goal": 2,
            "cpu_ms_per_demand_goal": 20,
            "onestop": onestop2,
            "peer": peer2,
        },
        "P3": {
            "what": "ms from the 201 to its assignment.made consumed by a probe queue, "
            "offered open-loop at the P2 median rate (bench.stack_bench.latency)",
            "goal_p99_ms": 50,
            **(p3 or {}),
        },
        "P4": {
            "what": "deliveries acknowledged/s while every consumer works off the backlog "
            "P1 left (the cascade included), ÷ raw pika publishing and consuming as many "
            "persistent messages of an event's size on the same broker (bench.drain)",
            "goal": 0.5,
            **(p4 or {}),
        },
        "commands": commands,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="P1 rounds")
    ap.add_argument("--seconds", type=float, default=10, help="seconds per P1 and peer run")
    ap.add_argument("--e2e-rounds", type=int, default=2, help="P2 rounds (0: skip P2)")
    ap.add_argument("--e2e-seconds", type=float, default=15, help="seconds of load per P2 run")
    ap.add_argument("--p3-seconds", type=float, default=20, help="P3 run (0: skip P3)")
    ap.add_argument("--no-drain", dest="drain", action="store_false", help="skip P4")
    ap.add_argument(
        "--raw-cap", type=int, default=100_000, help="most messages in P4's raw pika run"
    )
    ap.add_argument(
        "--consumer-batch",
        type=int,
        help="ONESTOP_CONSUMER_BATCH for onestop's workers (default: the platform's, 50)",
    )
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers, both sides")
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads, both sides")
    ap.add_argument("--modes", default="plain,keys", help="intake's P1 modes (intake_bench)")
    ap.add_argument("--venv", type=Path, help="the peer's venv (default: one under /tmp)")
    ap.add_argument("--fresh-venv", action="store_true", help="install the peer again")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk (the Debian package)")
    venv = peer_venv(a.venv, a.fresh_venv)
    base = Path(tempfile.mkdtemp(prefix="onestop-peerbench-"))
    base.chmod(0o755)  # PostgreSQL and RabbitMQ run as their own users below it
    try:
        report = measure(a, venv, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
