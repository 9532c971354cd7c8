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
PostgreSQL and RabbitMQ spent per accepted demand (each run waits until the API is idle
again, so its relay's publishing counts for the run that caused it), and the SQL per POST.

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

# The demo's enterprises, in seven jurisdictions of 西宁 (the ``spread`` mode: the city's
# staff key files for each in turn, so demands take numbers of seven sequences).
SPREAD = [
    ("91630102MA7522T5X6", "青海高原新材料科技有限公司"),
    ("91630103MA75A3KX7N", "西宁光伏装备制造有限公司"),
    ("91630104710405288K", "青海盐湖锂业科技有限公司"),
    ("91630105MA7NHP6Q1L", "西宁藏药生物科技有限公司"),
    ("91630100226580371K", "青海电子信息产业有限公司"),
    ("91630121MA7532XW4R", "大通农牧科技有限公司"),
    ("91630123MA75B1D297", "湟源特色食品科技有限公司"),
]

# wrk: one Lua state per thread; ``setup`` numbers the threads so that every request of
# the run has its own Idempotency-Key (``-- <key> <run> keys|plain|spread``: keys sends
# one, spread files the demo's enterprises in turn).
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
  if mode == "spread" then
    return wrk.format("POST", "%(path)s", h, spread[(n + tid) %% #spread + 1])
  end
  return wrk.format("POST", "%(path)s", h, '%(body)s')
end
spread = {%(spread)s}
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
        creds = json.loads((base / "data" / "demo-credentials.json").read_text())
        key, city_key = creds["district"]["key"], creds["staff"]["key"]
        counts = count_sql(load_settings(stack.env()), key, posts=20)
        for name in [k for k in stack.procs if k.endswith("-worker")]:
            stack.freeze(name)
        pids = {"intake-api": stack.procs["intake-api"].pid}
        if stack.pg and stack.pg.proc:
            pids["postgresql"] = stack.pg.proc.pid
        if stack.mq and stack.mq.proc:
            pids["rabbitmq"] = stack.mq.proc.pid
        ready = {
            "port": stack.api_ports["intake"],
            "keys": {"district": key, "city": city_key},
            "pids": pids,
            "sql": counts,
        }
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


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process tree: every live process's own and its
    reaped children's (PostgreSQL's backends come and go)."""
    out = {}
    for name, root in pids.items():
        total = 0.0
        for pid in _tree_pids(root):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        out[name] = total
    return out


def settle(pids: dict[str, int], timeout: float = 60.0) -> None:
    """Until the intake API is idle again (its relay has published what the last run
    left in the outbox), so that no run pays for the one before."""
    deadline = time.monotonic() + timeout
    before = _cpu_seconds(pids)["intake-api"]
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _cpu_seconds(pids)["intake-api"]
        if now - before < 0.05:
            return
        before = now


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
                settle(info["pids"])
                cpu0 = _cpu_seconds(info["pids"])
                key = info["keys"]["city" if mode == "spread" else "district"]
                res = wrk(info["port"], key, mode, a.seconds, a.connections, lua)
                settle(info["pids"])  # the relay's work for this run counts for it
                cpu1 = _cpu_seconds(info["pids"])
                per = {k: 1000 * (cpu1[k] - cpu0[k]) / max(res["accepted"], 1) for k in cpu1}
                res["cpu_ms_per_demand"] = round(sum(per.values()), 2)
                res["cpu_ms_by_process"] = {k: round(v, 2) for k, v in per.items()}
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
        by_process = {
            k: {
                proc: round(statistics.median(x["cpu_ms_by_process"][proc] for x in v), 2)
                for proc in v[0]["cpu_ms_by_process"]
            }
            for k, v in by_tree.items()
        }
        entry: dict[str, Any] = {
            "median": medians,
            "cpu_ms_per_demand_median": cpu_ms,
            "cpu_ms_by_process_median": by_process,
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
    ap.add_argument(
        "--modes",
        default="keys,plain,spread",
        help="keys: an Idempotency-Key each; plain: none; spread: seven jurisdictions",
    )
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
        bodies = [DEMAND] + [
            {**DEMAND, "enterprise": {"credit_code": code, "name": name}} for code, name in SPREAD
        ]
        quoted = [json.dumps(b, ensure_ascii=False).replace("'", "\\'") for b in bodies]
        spread = ", ".join(f"'{b}'" for b in quoted[1:])
        lua.write(LUA % {"path": PATH, "body": quoted[0], "spread": spread})
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
