"""Intake's write path: demands accepted per second by the intake API alone, and the SQL
it runs per ``POST /demands`` — one source tree, or two side by side (before/after).

For each tree a child process (run with that tree on ``PYTHONPATH``) starts the stack
shape (``onestop.stack.Stack``: gunicorn gthread APIs, a worker per service, its own
durable PostgreSQL and RabbitMQ), waits for the directory's keys to reach every copy,
then counts the statements, transactions and connection checkouts of one POST on
intake's engine (a SQLAlchemy event listener, in-process through the Flask test
client, relay excluded), and freezes every worker: the API then does what it does in
production (PostgreSQL, the outbox relay publishing to RabbitMQ with confirms) while
nothing consumes. This process then drives each tree's intake API with ``wrk``
(``apt-get install wrk``; a Lua script posts the demo demand with the district key and
a fresh ``Idempotency-Key`` per request, or none) in interleaved rounds, and prints
one JSON report: accepted demands/s per round and their median, the CPU the intake API,
PostgreSQL and RabbitMQ spent per accepted demand, and the SQL per POST.

Figures are printed, never asserted. Usage::

    python -m bench.intake_bench                           # this tree alone
    git worktree add --detach /tmp/intake-old <commit>
    python -m bench.intake_bench --baseline /tmp/intake-old --rounds 3 --seconds 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
PATH = "/api/v1/demands"
DEMAND = {
    "enterprise": {"credit_code": "91630102MA7522T5X6", "name": "青海高原新材料科技有限公司"},
    "category": "technology",
    "title": "正极材料烧结工艺改进",
    "description": "需要改进锂电池正极材料烧结工艺，降低能耗。",
    "source": "online",
}

# wrk: one Lua state per thread; ``setup`` numbers the threads so that every request of
# the run has its own Idempotency-Key (``-- <key> <run> keys|plain``).
LUA = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  api_key, run, mode = args[1], args[2], args[3]
  n = 0
end
function request()
  n = n + 1
  local h = {["Authorization"] = "Bearer " .. api_key, ["Content-Type"] = "application/json"}
  if mode == "keys" then
    h["Idempotency-Key"] = run .. "-" .. tid .. "-" .. n
  end
  return wrk.format("POST", "%(path)s", h, '%(body)s')
end
"""


# -- the child: one tree's stack ----------------------------------------------------------
def count_sql(settings: Any, key: str, posts: int) -> dict[str, Any]:
    """Statements, transactions and connection checkouts on intake's engine per POST,
    after one warm-up POST (the key's lookup cached, statements compiled). The relay is
    left out (its own thread and cost, the outbox's concern)."""
    from sqlalchemy import event

    from services.intake.app import create_app

    app = create_app(settings)
    svc = app.extensions["onestop"]
    svc.relay.notify = lambda: None
    engine = svc.db.engine
    seen = {"statements": 0, "transactions": 0, "checkouts": 0}
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen["statements"] += 1
        statements.append(" ".join(statement.split())[:90])

    def on_begin(_conn: Any) -> None:
        seen["transactions"] += 1

    def on_checkout(*_: Any) -> None:
        seen["checkouts"] += 1

    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for i in range(posts + 1):
        if i == 1:
            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "begin", on_begin)
            event.listen(engine.pool, "checkout", on_checkout)
        h = {**headers, "Idempotency-Key": f"count-{os.getpid()}-{i}"}
        r = client.post(PATH, json=DEMAND, headers=h)
        if r.status_code != 201:
            raise RuntimeError(f"POST answered {r.status_code}: {r.get_data(as_text=True)}")
    per_post = {k: round(v / posts, 2) for k, v in seen.items()}
    return {**per_post, "one_post": statements[: len(statements) // posts]}


def serve(label: str) -> None:
    """Start this tree's stack, report how to reach it, hold it until stdin closes."""
    from onestop.stack import Stack
    from shared.config import load_settings

    base = Path(tempfile.mkdtemp(prefix=f"onestop-intakebench-{label}-"))
    stack = Stack(base=base, broker_node=f"intakebench-{label}-{os.getpid()}")
    try:
        stack.start()
        key = json.loads((base / "data" / "demo-credentials.json").read_text())["district"]["key"]
        counts = count_sql(load_settings(stack.env()), key, posts=20)
        for name in [k for k in stack.procs if k.endswith("-worker")]:
            stack.freeze(name)
        pids = {"intake-api": stack.procs["intake-api"].pid}
        if stack.pg and stack.pg.proc:
            pids["postgresql"] = stack.pg.proc.pid
        if stack.mq and stack.mq.proc:
            pids["rabbitmq"] = stack.mq.proc.pid
        ready = {"port": stack.api_ports["intake"], "key": key, "pids": pids, "sql": counts}
        print("READY " + json.dumps(ready, ensure_ascii=False), flush=True)
        sys.stdin.read()  # until the bench closes our stdin
    finally:
        for name in [k for k in stack.procs if k.endswith("-worker")]:
            with contextlib.suppress(OSError):
                stack.thaw(name)
        stack.destroy()


# -- the driver ---------------------------------------------------------------------------
def _tree_pids(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += _tree_pids(int(child))
    return out


def _cpu_seconds(pids: dict[str, int]) -> float:
    total = 0.0
    for root in pids.values():
        for pid in _tree_pids(root):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wrk(port: int, key: str, mode: str, seconds: float, connections: int, lua: Path) -> dict:
    """One wrk run; requests answered 201 per second."""
    run = f"r{time.monotonic_ns()}"
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}{PATH}",
            "--",
            key,
            run,
            mode,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if done is None:
        raise RuntimeError(f"wrk said: {out}")
    unit = {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    requests, elapsed = int(done.group(1)), float(done.group(2)) * unit
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    refused = int(bad.group(1)) if bad else 0
    return {
        "accepted": requests - refused,
        "refused": refused,
        "socket_errors": errors.group(1) if errors else None,
        "per_second": round((requests - refused) / elapsed, 1),
    }


def start_child(
    label: str, tree: Path, log: IO[bytes]
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE), "serve", label],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, json.loads(line[len("READY ") :])
    raise RuntimeError(f"the {label} stack did not start (exit {proc.wait()})")


def stop_child(proc: subprocess.Popen[str]) -> None:
    stdin: IO[str] | None = proc.stdin
    if stdin is not None:
        with contextlib.suppress(OSError):
            stdin.close()
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()


def rounds(ready: dict[str, dict[str, Any]], a: argparse.Namespace, lua: Path) -> dict:
    """Interleaved wrk runs (the order alternates each round); the runs by mode and tree."""
    modes = a.modes.split(",")
    runs: dict[str, dict[str, list[dict]]] = {m: {k: [] for k in ready} for m in modes}
    for r in range(a.rounds):
        order = list(ready) if r % 2 == 0 else list(reversed(ready))
        for mode in modes:
            for label in order:
                info = ready[label]
                cpu0 = _cpu_seconds(info["pids"])
                res = wrk(info["port"], info["key"], mode, a.seconds, a.connections, lua)
                cpu = _cpu_seconds(info["pids"]) - cpu0
                res["cpu_ms_per_demand"] = round(1000 * cpu / max(res["accepted"], 1), 2)
                runs[mode][label].append(res)
                print(f"round {r + 1} {mode:5} {label:6} {res}", file=sys.stderr, flush=True)
    return runs


def summary(runs: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode, by_tree in runs.items():
        medians = {k: statistics.median(x["per_second"] for x in v) for k, v in by_tree.items()}
        cpu_ms = {
            k: statistics.median(x["cpu_ms_per_demand"] for x in v) for k, v in by_tree.items()
        }
        entry: dict[str, Any] = {
            "median": medians,
            "cpu_ms_per_demand_median": cpu_ms,
            "runs": by_tree,
        }
        if medians.get("before"):
            entry["after_over_before"] = round(medians["after"] / medians["before"], 2)
        out[mode] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, help="a worktree of the commit to compare with")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the tree measured (default: this)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--modes", default="keys,plain", help="keys: an Idempotency-Key each")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    trees = {"after": a.tree.resolve()}
    if a.baseline:
        trees = {"before": a.baseline.resolve(), **trees}
    children: dict[str, subprocess.Popen[str]] = {}
    ready: dict[str, dict[str, Any]] = {}
    with (
        tempfile.NamedTemporaryFile("w", suffix=".lua") as lua,
        tempfile.NamedTemporaryFile(prefix="intake-bench-", suffix=".log", delete=False) as log,
    ):
        body = json.dumps(DEMAND, ensure_ascii=False).replace("'", "\\'")
        lua.write(LUA % {"path": PATH, "body": body})
        lua.flush()
        print(f"the stacks' own output: {log.name}", file=sys.stderr, flush=True)
        try:
            for label, tree in trees.items():
                children[label], ready[label] = start_child(label, tree, log)
            runs = rounds(ready, a, Path(lua.name))
        finally:
            for proc in children.values():
                stop_child(proc)
    report = {
        "shape": "intake API alone: gunicorn gthread, PostgreSQL (durable), RabbitMQ; "
        "workers frozen",
        "client": f"wrk -t2 -c{a.connections}, {a.seconds:g} s per run, {a.rounds} rounds",
        "trees": {k: str(v) for k, v in trees.items()},
        "sql_per_post": {k: v["sql"] for k, v in ready.items()},
        "accepted_per_second": summary(runs),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        main()
