"""deploy/rabbitmq/definitions.json is exactly the topology the workers declare
(``onestop topology`` rewrites it)."""

import json
from pathlib import Path

from onestop.topology import platform_subscriptions
from shared.config import load_settings

DEFS = Path(__file__).resolve().parents[3] / "deploy" / "rabbitmq" / "definitions.json"


def declared(tmp_path):
    return platform_subscriptions(load_settings({"ONESTOP_DATA_DIR": str(tmp_path)}))


def test_definitions_match_the_declared_queues_and_bindings(tmp_path):
    defs = json.loads(DEFS.read_text())
    subs = declared(tmp_path)
    queues = {q["name"]: q["arguments"] for q in defs["queues"]}
    expected = {}
    for sub in subs:
        expected[sub.queue] = sub.kombu_queue().queue_arguments
        expected[f"{sub.queue}.dlq"] = {"x-queue-type": "quorum"}
    assert queues == expected
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in defs["bindings"]}
    want = {(f"onestop.{p}", s.queue, k) for s in subs for p, k in s.bindings}
    want |= {("onestop.dlx", s.queue + ".dlq", s.queue) for s in subs}
    assert bindings == want
    exchanges = {e["name"]: e["type"] for e in defs["exchanges"]}
    assert exchanges["onestop.dlx"] == "direct"
    assert all(exchanges[src] == "topic" for src, _, _ in want if src != "onestop.dlx")


def test_the_document_tells_a_service_every_consumer_queue_and_its_bindings(tmp_path):
    """The archive's replay reads the queues from the document (it imports no service)."""
    from shared.messaging import consumer_queues

    found = consumer_queues(json.loads(DEFS.read_text()))
    assert found == {s.queue: list(s.bindings) for s in declared(tmp_path)}
    assert load_settings({}).topology_file == DEFS
