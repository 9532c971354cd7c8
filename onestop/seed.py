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

    The demo province is Qinghai, whole: every prefecture and county from the official
    division data, with a few parks and stations. Keys are stored hashed, so
    their plaintext exists only in ``<data dir>/demo-credentials.json``; that file is
    reused while its keys still authenticate, so a restart keeps the same keys. The other
    services learn the units and keys from the directory's events
    (``wait_for_copies`` waits until they have).
    """
    from onestop import demo
    from services import directory, dispatch, intake
    from services.directory import imports, keys
    from services.dispatch.experts import seed_experts
    from services.dispatch.seed import seed_responsibility
    from services.intake.registry import seed_enterprises

    # The demo's events (units, keys, enterprises registered, the responsibility map) must
    # find their queues, also in the in-process broker, which starts empty in every process.
    declare_broker_topology(settings)
    directory_svc = directory.build(settings)
    intake_svc = intake.build(settings)
    dispatch_svc = dispatch.build(settings)
    seeders = (directory_svc, intake_svc, dispatch_svc)
    if settings.embedded:
        # The in-process broker of this process may not be the platform's (`onestop
        # seed-demo` runs alone): the events wait in the outboxes, and the platform's
        # relays publish them when it starts.
        for svc in seeders:
            svc.relay.stop()
    # every prefecture and county of the province (its 400 townships: `onestop directory
    # import-divisions --townships --province 630000`)
    rows = imports.province_rows(imports.DIVISIONS, demo.PROVINCE)
    imports.import_divisions(directory_svc.uow(), None, rows)
    open_demo_units(directory_svc, demo.UNITS)
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
    seed_experts(dispatch_svc.uow(), demo.EXPERTS)
    path = settings.data_dir / "demo-credentials.json"
    creds: dict[str, dict[str, Any]] = {}
    if path.exists():
        creds = json.loads(path.read_text())
    known = directory_svc.directory
    for role, (jurisdiction, agency_id) in demo.DEMO_KEYS.items():
        entry = creds.get(role)
        if entry and known.authenticate(entry.get("key", "")) is not None:
            continue
        command = {"name": f"demo {role}", "role": role, "jurisdiction": jurisdiction}
        if agency_id:
            command["agency_id"] = agency_id
        key = keys.issue_key(directory_svc.uow(), None, command)["key"]
        creds[role] = {"key": key, "jurisdiction": jurisdiction}
        if agency_id:
            creds[role]["agency_id"] = agency_id
    creds["people"] = seed_people(
        directory_svc, demo.PEOPLE, demo.DEMO_PASSWORD, creds.get("people", {})
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(creds, ensure_ascii=False, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    # The seed's events are published now; its relays must not outlive it (they would
    # keep sweeping these databases next to the platform's own relays).
    if not settings.embedded:
        for svc in seeders:
            svc.relay.drain(timeout=10)
            svc.relay.stop()
    return creds


def seed_people(
    directory_svc: Any,
    wanted: list[tuple[str, str, str, tuple[str, ...], dict[str, Any]]],
    password: str,
    known: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """One account per role, each made once; their log-ins (and the administrators'
    second-factor secrets, shown only when made) for demo-credentials.json."""
    from sqlalchemy import select

    from services.directory.models import persons
    from services.directory.passwords import Hasher
    from services.directory.people import create_person

    hasher = Hasher()
    out: dict[str, dict[str, Any]] = {}
    for person_id, name, unit, roles, bindings in wanted:
        with directory_svc.db.session() as s:
            there = s.execute(select(persons.c.person_id).where(persons.c.person_id == person_id))
            exists = there.first() is not None
        entry = {"password": password, "unit": unit, "roles": list(roles)}
        if exists:
            secret = known.get(person_id, {}).get("second_factor_secret")
        else:
            command = {"person_id": person_id, "name": name, "unit": unit, "roles": list(roles)}
            made = create_person(
                directory_svc.uow(),
                None,
                {**command, **bindings, "password": password},
                hasher=hasher,
            )
            secret = made.get("second_factor_secret")
        if secret:
            entry["second_factor_secret"] = secret
        out[person_id] = entry
    return out


def open_demo_units(directory_svc: Any, wanted: list[tuple[str, str, str]]) -> None:
    """The demo's parks and stations, each opened once (by parent and name)."""
    from sqlalchemy import select

    from services.directory import units
    from services.directory.models import jurisdictions as t

    for parent, kind, name in wanted:
        with directory_svc.db.session() as s:
            there = s.execute(
                select(t.c.code).where(t.c.parent == parent, t.c.name == name)
            ).first()
        if there is None:
            units.open_unit(
                directory_svc.uow(), None, {"parent": parent, "kind": kind, "name": name}
            )


def wait_for_copies(
    settings: Settings, creds: dict[str, dict[str, Any]], timeout: float = 60.0
) -> None:
    """Wait until every service authenticates every demo key from its own copy of the
    directory (the directory's events consumed); TimeoutError naming who has not."""
    import importlib
    import time

    from shared.config import SERVICES

    services = {n: importlib.import_module(f"services.{n}").build(settings) for n in SERVICES}
    deadline = time.monotonic() + timeout
    while True:
        missing = [
            f"{name}: {role}"
            for name, svc in services.items()
            for role, entry in creds.items()
            if "key" in entry and svc.directory.authenticate(entry["key"]) is None
        ]
        missing += [
            f"{name}: signing key"
            for name, svc in services.items()
            if not svc.directory.signing_keys()
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the directory's keys have not reached " + ", ".join(missing))
        for svc in services.values():
            svc.directory.forget()
        time.sleep(0.1)
