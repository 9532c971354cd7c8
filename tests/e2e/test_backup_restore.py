"""Backup and restore on the production shape (``onestop backup``, ``onestop restore``,
``onestop agencies reprovision``).

Stack A (its own PostgreSQL and RabbitMQ, workers and gunicorn APIs) archives demands and
admits an agency; ``onestop backup`` bundles it and A is stopped. Stack B starts on a
**fresh, empty** PostgreSQL and RabbitMQ, ``onestop restore`` brings the bundle up there,
and B must then hold the same chain (full walk = recorded head), let the agency log in to
its broker with the password it was given on A, and carry a new demand end to end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from kombu import Connection

from onestop.localservers import Postgres, RabbitMQ
from onestop.stack import ROOT, Stack
from shared.config import SERVICES
from tests.e2e.test_stack import _admit, _consumer, complete, hdr, post_demand, url
from tests.factories import DEMO_DEMAND
from tests.support import need, read_credentials, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
AGENCY = "ag-pat-bk1"


def _stack(key: str) -> Stack:
    tag = uuid.uuid4().hex[:6]
    return Stack(
        base=Path(tempfile.mkdtemp(prefix=f"onestop-bk-{tag}-")),
        gunicorn_workers=1,
        gunicorn_threads=4,
        broker_node=f"onestop-bk-{tag}",  # a node name of its own on this machine
        extra_env={"ONESTOP_SECRET_KEYS": key},  # the sealing keys travel apart from bundles
    )


def onestop(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onestop.cli", *args],
        env={**stack.env(), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def agency_url(stack: Stack, broker: dict[str, str]) -> dict[str, str]:
    """The agency's credentials, pointed at ``stack``'s broker."""
    assert stack.mq is not None
    user, where = broker["username"], f"127.0.0.1:{stack.mq.port}/%2F"
    return {
        **broker,
        "url": f"amqp://{user}@{where}",  # as admission hands it out: no password
        "login": f"amqp://{user}:{broker['password']}@{where}",
    }


def logs_in(amqp_url: str) -> bool:
    try:
        with Connection(amqp_url, connect_timeout=10) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def order_for_agency(stack: Stack, agency: dict) -> str:
    demand = {**DEMO_DEMAND, "category": "ip", "service_item": "ip_filing"}
    r = requests.post(
        url(stack, "intake", "/api/v1/demands"),
        json={**demand, "ordered_agency": AGENCY},
        headers=hdr(stack),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()["code"]


def consumed_order(stack: Stack, agency: dict, code: str) -> None:
    out = _consumer(stack, agency_url(stack, agency["broker"]), f"agency.{AGENCY}")
    assert out.returncode == 0, out.stderr
    msg = json.loads(out.stdout.splitlines()[0])
    assert msg["event_type"] == "agency.order_dispatched"
    assert msg["payload"]["demand_code"] == code


@pytest.fixture(scope="module")
def world():
    need(Postgres.available(), "postgresql")
    need(RabbitMQ.available(), "rabbitmq-server")
    key = Fernet.generate_key().decode()
    a, b = _stack(key), _stack(key)
    backups = Path(tempfile.mkdtemp(prefix="onestop-bundles-"))
    try:
        a.start()
        a.creds = read_credentials(a.base / "data")
        agency = _admit(a, AGENCY)
        codes = [post_demand(a) for _ in range(3)]
        for code in codes:
            wait_for(lambda code=code: complete(a, code), timeout=60, interval=0.2)
        made = onestop(a, "backup", "--to", str(backups))
        assert made.returncode == 0, made.stderr
        bundle = Path(made.stdout.strip().splitlines()[-1].removeprefix("bundle "))
        manifest = json.loads((bundle / "manifest.json").read_text())
        a.stop()  # B must not need anything of A's

        b.start_infra()  # fresh, empty PostgreSQL and RabbitMQ
        restored = onestop(b, "restore", str(bundle))
        assert restored.returncode == 0, restored.stderr
        verified = onestop(b, "archive", "verify", "--full")  # before anything new is archived
        for name in SERVICES:
            b.start_worker(name)
        for name in SERVICES:
            b.start_api(name)
        b.creds = a.creds  # the keys are in the restored databases
        yield {
            "a": a,
            "b": b,
            "agency": agency,
            "codes": codes,
            "bundle": bundle,
            "manifest": manifest,
            "restored": restored.stdout,
            "verified": verified,
        }
    finally:
        a.destroy()
        b.destroy()
        shutil.rmtree(backups, ignore_errors=True)


def test_the_bundle_is_private_and_holds_hashes_not_passwords(world):
    bundle, manifest = world["bundle"], world["manifest"]
    assert bundle.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in bundle.iterdir())
    assert {f"{n}.dump" for n in SERVICES} <= set(manifest["files"])
    assert all(len(m["alembic_heads"]) == 1 for m in manifest["databases"].values())
    users = json.loads((bundle / "rabbitmq-definitions.json").read_text())["users"]
    [user] = [u for u in users if u["name"] == f"agency-{AGENCY}"]
    assert user["password_hash"] and "password" not in user
    password = world["agency"]["broker"]["password"]
    assert not any(password.encode() in p.read_bytes() for p in bundle.iterdir())


def test_restore_walks_the_chain_to_the_recorded_head(world):
    head = world["manifest"]["archive_chain_head"]
    assert head["length"] >= 2 * len(world["codes"])  # accepted + assigned, each demand
    assert f"full walk of {head['length']} records = recorded head" in world["restored"]
    verified = json.loads(world["verified"].stdout)
    assert verified["ok"] and verified["checked"] == head["length"]
    for code in world["codes"]:
        assert complete(world["b"], code)  # the trace is there on B


def test_a_new_demand_flows_end_to_end_on_the_restored_stack(world):
    b = world["b"]
    code = post_demand(b)
    wait_for(lambda: complete(b, code), timeout=60, interval=0.2)
    assert code not in world["codes"]


def test_the_agency_logs_in_with_its_password_and_gets_its_orders(world):
    b, agency = world["b"], world["agency"]
    # RabbitMQ checks the password the agency was given on A against the restored hash
    assert logs_in(agency_url(b, agency["broker"])["login"])
    consumed_order(b, agency, order_for_agency(b, agency))


def test_restore_into_a_non_empty_database_is_refused(world):
    b = world["b"]
    before = onestop(b, "archive", "verify", "--full")
    again = onestop(b, "restore", str(world["bundle"]))
    assert again.returncode != 0
    assert "not empty" in again.stderr and "--force" in again.stderr
    assert (
        json.loads(onestop(b, "archive", "verify", "--full").stdout)["checked"]
        == (json.loads(before.stdout)["checked"])
    )


def test_a_bundle_with_one_byte_changed_is_refused_before_anything_is_written(world, tmp_path):
    b = world["b"]
    assert b.pg is not None
    bad = tmp_path / world["bundle"].name
    shutil.copytree(world["bundle"], bad)
    dump = bad / "archive.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    env = {f"ONESTOP_{n.upper()}_DATABASE_URL": b.pg.create_database(f"bad_{n}") for n in SERVICES}
    refused = onestop(b, "restore", str(bad), **env)
    assert refused.returncode != 0
    assert "archive.dump: size or sha256 does not match" in refused.stderr
    import psycopg

    for n in SERVICES:
        with psycopg.connect(f"host=127.0.0.1 port={b.pg.port} user=onestop dbname=bad_{n}") as c:
            tables = c.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)


def test_reprovision_brings_back_a_lost_agency_user_and_queue(world):
    b, agency = world["b"], world["agency"]
    assert b.mq is not None and b.mq.admin_url is not None
    api = f"http://127.0.0.1:{b.mq.management_port}/api"
    auth = ("guest", "guest")
    assert requests.delete(f"{api}/users/agency-{AGENCY}", auth=auth, timeout=10).ok
    assert requests.delete(f"{api}/queues/%2F/agency.{AGENCY}", auth=auth, timeout=10).ok
    assert not logs_in(agency_url(b, agency["broker"])["login"])
    out = onestop(b, "agencies", "reprovision")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["agency_id"] == AGENCY]
    assert mine == [
        {
            "agency_id": AGENCY,
            "status": "active",
            "queue": f"agency.{AGENCY}",
            "user_provisioned": True,
        }
    ]
    assert onestop(b, "agencies", "reprovision").returncode == 0  # idempotent
    consumed_order(b, agency, order_for_agency(b, agency))
