"""The demo province: load it (idempotent) and hand out its keys (``onestop seed-demo``,
``onestop run``)."""

from __future__ import annotations

import json
import os
from typing import Any

from onestop.topology import declare_broker_topology
from shared.config import Settings


def seed_demo(settings: Settings) -> dict[str, dict[str, Any]]:
    """Load the demo data (idempotent) and return the demo credentials.

    Keys are stored hashed, so their plaintext exists only in
    ``<data dir>/demo-credentials.json``; that file is reused while its keys
    still authenticate, so a restart keeps the same keys.
    """
    from onestop import demo
    from services import dispatch, intake
    from services.dispatch.seed import seed_responsibility
    from services.intake.registry import seed_enterprises

    # The demo's events (enterprises registered, the responsibility map) must find their
    # queues, also in the in-process broker, which starts empty in every process.
    declare_broker_topology(settings)
    intake_svc = intake.build(settings)
    dispatch_svc = dispatch.build(settings)
    for code, name in demo.JURISDICTIONS:
        intake_svc.directory.add_jurisdiction(code, name)
    seed_enterprises(intake_svc.uow(), demo.ENTERPRISES)
    seed_responsibility(
        dispatch_svc.uow(),
        demo.DEPARTMENTS,
        demo.STAFF,
        demo.AGENCIES,
        city="630100",
        leaders=demo.LEADERS,
        menu=demo.MENU,
    )
    path = settings.data_dir / "demo-credentials.json"
    creds: dict[str, dict[str, Any]] = {}
    if path.exists():
        creds = json.loads(path.read_text())
    directory = intake_svc.directory
    for role, (jurisdiction, agency_id) in demo.DEMO_KEYS.items():
        entry = creds.get(role)
        if entry and directory.authenticate(entry.get("key", "")) is not None:
            continue
        key = directory.create_key(
            name=f"demo {role}", role=role, jurisdiction=jurisdiction, agency_id=agency_id
        )
        creds[role] = {"key": key, "jurisdiction": jurisdiction}
        if agency_id:
            creds[role]["agency_id"] = agency_id
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(creds, ensure_ascii=False, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    # The seed's events are published now; its relays must not outlive it (they would
    # keep sweeping these databases next to the platform's own relays).
    for svc in (intake_svc, dispatch_svc):
        svc.relay.drain(timeout=10)
        svc.relay.stop()
    return creds
