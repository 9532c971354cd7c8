"""The embedded default: the services, their workers and relays, and the web console in
one process.

SQLite files under the data directory and kombu's in-process ``memory://``
transport, so nothing external is needed. Shutdown (SIGTERM or Ctrl-C) is
ordered so that nothing accepted is lost:

1. intake stops accepting demands (503 with Retry-After);
2. outboxes are published and every in-process queue is consumed until the
   whole platform is quiet (no pending outbox row, no queued or in-flight
   message) — events started by one service reach the end of the thread;
3. the HTTP server, the consumers and the relays stop.

Because the in-process broker does not survive the process, a *crash* could
leave published-but-unconsumed messages behind. The run records whether it
ended cleanly; after an unclean end, outbox rows published since that run
started are published again at start-up. Consumers are idempotent (inbox), so
a re-delivery is harmless.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from sqlalchemy import update
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from services.console.app import create_app as create_console
from shared.config import SERVICES, Settings
from shared.logs import setup_logging
from shared.messaging import connect, declare_topology
from shared.runtime import Service
from shared.worker import Periodic, WorkerThread

log = logging.getLogger(__name__)


class InFlight:
    """WSGI middleware counting the requests being handled (for an orderly stop)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            self.count += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self.count -= 1


class Platform:
    """Every service wired together in this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: dict[str, Service] = {}
        self.apps: dict[str, Any] = {}
        self.workers: list[WorkerThread] = []
        self.periodic: list[Periodic] = []
        for name in SERVICES:
            app = importlib.import_module(f"services.{name}.app").create_app(settings)
            self.apps[f"/{name}"] = app
            self.services[name] = app.extensions["onestop"]
        # the console answers under "/": it calls the services in-process, through the same
        # router, as it calls the gateway in the stack
        console = create_console(settings, wsgi=lambda environ, start: self.router(environ, start))
        self.router = DispatcherMiddleware(console, self.apps)
        self.in_flight = InFlight(self.router)
        self.wsgi = self.in_flight
        self._state_path = settings.data_dir / "embedded-state.json"

    # lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self._recover_after_crash()
        subscriptions = {
            name: importlib.import_module(f"services.{name}.worker").subscriptions(svc)
            for name, svc in self.services.items()
        }
        # Every queue and binding must exist before the first publish: the
        # in-process broker starts empty, and a topic exchange drops what no
        # queue is bound to.
        with connect(self.settings.broker_url) as conn:
            declare_topology(
                conn.default_channel, [s for subs in subscriptions.values() for s in subs]
            )
        for name, svc in self.services.items():
            module = importlib.import_module(f"services.{name}.worker")
            on_start = getattr(module, "on_start", None)
            if on_start is not None:
                on_start(svc)
            periodic = getattr(module, "periodic", None)
            if periodic is not None:
                job = Periodic(svc, periodic)
                job.start()
                self.periodic.append(job)
            w = WorkerThread(svc, svc.consumer(subscriptions[name]))
            w.start()
            self.workers.append(w)
        deadline = time.monotonic() + 10
        while not all(w.consumer.ready for w in self.workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        for svc in self.services.values():
            svc.relay.notify()

    def _recover_after_crash(self) -> None:
        state: dict[str, Any] = {}
        if self._state_path.exists():
            state = json.loads(self._state_path.read_text())
        if state and not state.get("clean", False):
            since = datetime.fromisoformat(state["started_at"])
            for svc in self.services.values():
                with svc.db.write_session() as s:
                    n = s.execute(  # type: ignore[attr-defined]
                        update(svc.outbox)
                        .where(svc.outbox.c.published_at >= since)
                        .values(published_at=None)
                    ).rowcount
                    s.commit()
                if n:
                    log.warning(
                        "%s: previous run ended uncleanly; re-publishing %d events", svc.name, n
                    )
        self._write_state(clean=False)

    def _write_state(self, *, clean: bool) -> None:
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC).isoformat()
        if clean and self._state_path.exists():
            started = json.loads(self._state_path.read_text()).get("started_at", started)
        self._state_path.write_text(json.dumps({"started_at": started, "clean": clean}))

    def queued(self) -> int:
        """Messages waiting in the in-process queues plus those being handled."""
        total = 0
        with connect(self.settings.broker_url) as conn:
            ch = conn.default_channel
            for w in self.workers:
                for sub in w.consumer.subscriptions:
                    total += ch.queue_declare(queue=sub.queue, passive=True).message_count
        return total + sum(1 for w in self.workers if w.consumer.busy)

    def quiesce(self, timeout: float = 30.0) -> bool:
        """Wait until no outbox row is pending and no message is queued or in flight."""
        deadline = time.monotonic() + timeout
        quiet_rounds = 0
        while time.monotonic() < deadline:
            for svc in self.services.values():
                svc.relay.notify()
            quiet_rounds = quiet_rounds + 1 if self.quiet() else 0
            if quiet_rounds >= 3:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.services["intake"].accepting.clear()
        deadline = time.monotonic() + 10
        while self.in_flight.count and time.monotonic() < deadline:
            time.sleep(0.02)  # requests that passed the check before it closed
        drained = self.quiesce()
        for job in self.periodic:
            job.stop()
        for w in self.workers:
            w.consumer.stop()
        for w in self.workers:
            w.join()
        for svc in self.services.values():
            # No last drain: with the consumers gone it would publish into a
            # broker that dies with the process. Rows still pending wait in
            # the outbox for the next start.
            svc.relay.stop()
        clean = drained and self.quiet()
        log.info("stopped %s", "cleanly" if clean else "with events left for the next start")
        self._write_state(clean=clean)

    def quiet(self) -> bool:
        return sum(svc.relay.pending() for svc in self.services.values()) + self.queued() == 0


def serve(settings: Settings, *, host: str, port: int, demo: bool = True) -> None:
    setup_logging(settings.log_level, settings.log_format)
    from onestop import migrate
    from onestop.demo import DEMO_PASSWORD
    from onestop.seed import seed_demo, wait_for_copies

    migrate.upgrade(settings)
    creds = seed_demo(settings) if demo else {}
    platform = Platform(settings)
    platform.start()
    if creds:
        wait_for_copies(settings, creds)  # every service knows the demo's units and keys
        print("Demo API keys (also in", settings.data_dir / "demo-credentials.json", "):")
        print(json.dumps(creds, ensure_ascii=False, indent=2), flush=True)
    server = make_server(host, port, platform.wsgi, threaded=True)
    stopping = threading.Event()

    def _shutdown() -> None:
        platform.stop()
        server.shutdown()

    def _signal(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %s: stopping intake, draining events", signum)
            threading.Thread(target=_shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    print(
        f"onestop (embedded) serving on http://{host}:{port} — the web console at /, the "
        "APIs under /directory /intake /dispatch /visits /scoring /archive",
        flush=True,
    )
    if creds:
        print(
            f"Sign in at http://{host}:{port}/sign-in as qiye.gaoyuan (an enterprise), "
            f"chen.jing (office staff), leader.xn or zhao.min (leaders), station.xn (the "
            f"alliance's station), clerk.pat (an agency) — "
            f"password {DEMO_PASSWORD}; the administrators also need the code of their "
            "second factor (its secret is in demo-credentials.json)",
            flush=True,
        )
    server.serve_forever()
    log.info("stopped")
