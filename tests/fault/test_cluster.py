"""A three-node RabbitMQ cluster on loopback loses a node mid-stream: nothing lost,
nothing applied twice, nothing dead-lettered (issue 17).

Three ``rabbitmq-server`` nodes (own names, ports and data, one Erlang cookie, every
listener and the Erlang distribution on 127.0.0.1) are clustered; ``onestop migrate``
declares the topology on them, every consumer queue a quorum queue replicated on all
three. The production-shape stack runs against the cluster's failover URL while 300
demands are posted at a steady rate; half-way the node leading the busiest queues —
also the first node of the URL, so every client is connected to it — is killed with
SIGKILL with a backlog queued, and stays down. Every demand that got its 201 must then
be in intake once, with one owner assignment and one ``demand.accepted`` and one
``assignment.made`` archived, and no dead letter anywhere (``bench.faults``' counts).
"""

from __future__ import annotations

import json

import pytest

from onestop.localservers import Postgres, RabbitCluster, RabbitMQ
from tests.fault.cluster import BUSY, ClusterRig
from tests.support import FAULT_REPORTS, need

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(600)]

DEMANDS = 300
RATE = 25.0


@pytest.fixture(scope="module")
def cluster():
    need(Postgres.available(), "postgresql")
    need(RabbitMQ.available(), "rabbitmq-server")
    c = RabbitCluster(size=3)
    try:
        c.start()
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="module")
def rig(cluster):
    r = ClusterRig(cluster).start()
    yield r
    r.stop()


def queue_rows(node: RabbitMQ) -> dict[str, list[str]]:
    rows = node.ctl(
        "list_queues", "--no-table-headers", "name", "type", "members", "online"
    ).splitlines()
    return {r.split("\t")[0]: r.split("\t")[1:] for r in rows if "\t" in r}


def test_the_topology_is_quorum_queues_on_every_node(rig, cluster):
    rows = queue_rows(cluster.nodes[0])
    assert rows and all(kind == "quorum" for kind, _, _ in rows.values()), rows
    for queue in BUSY:
        members = rows[queue][1]
        assert all(n.nodename in members for n in cluster.nodes), (queue, members)


def test_a_node_killed_mid_stream_loses_and_doubles_nothing(rig, cluster):
    report = rig.run("rabbitmq-node-kill", DEMANDS, RATE)
    FAULT_REPORTS.append(report)
    print(json.dumps({**report.row(), "statuses": report.statuses}, ensure_ascii=False))
    assert rig.killed is not None and not rig.killed.running()
    running = cluster.running_nodes(rig.alive())
    assert rig.killed.nodename not in running and len(running) == 2
    # the busiest queues have new leaders on the nodes left
    assert set(rig.leaders().values()) <= set(running)
    assert report.posted == DEMANDS + 1  # and the probe posted when the node died
    assert report.created == report.posted, report.details
    assert report.lost == 0, report.details
    assert report.doubled == 0, report.details
    assert report.dead_lettered == 0
    assert report.bad_answers == 0, report.details.get("bad")
    assert report.recovery_seconds is not None
