"""A fault rig whose broker is a three-node RabbitMQ cluster, and the fault it adds:
``kill -9`` of the node that leads the busiest quorum queues — the node every client
is connected to first — with a backlog queued."""

from __future__ import annotations

from collections import Counter

from bench.faults import Rig
from onestop.localservers import RabbitCluster, RabbitMQ

BUSY = ("dispatch.on_demand_accepted", "archive.all_events")


class ClusterRig(Rig):
    """``bench.faults.Rig`` (supervised stack, durable PostgreSQL, the counts of what was
    lost, doubled or dead-lettered) on ``cluster``: every service's broker URL lists
    the three nodes (kombu fails over to the next one)."""

    FAULTS = {"rabbitmq-node-kill": "node_kill"}

    def __init__(self, cluster: RabbitCluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.stack.broker_url = cluster.url
        self.killed: RabbitMQ | None = None

    def leaders(self) -> dict[str, str]:
        rows = self.alive().ctl("list_queues", "--no-table-headers", "name", "leader")
        found = dict(r.split("\t") for r in rows.splitlines() if r.count("\t") == 1)
        return {q: found[q] for q in BUSY if q in found}

    def alive(self) -> RabbitMQ:
        return next(n for n in self.cluster.nodes if n.running())

    def node_kill(self, down: float) -> None:
        """The leader of the busiest queues dies (SIGKILL to all its processes) with a
        backlog queued, and stays down for the rest of the run: two nodes carry on."""
        leaders = Counter(n for n in self.leaders().values() if n).most_common(1)
        # (classic queues have no leader: their node, the first, is killed then)
        self.killed = self.cluster.node(leaders[0][0] if leaders else self.cluster.url_node)
        self._backlog()
        self.killed.kill()
        self._strike()
        self._release()
