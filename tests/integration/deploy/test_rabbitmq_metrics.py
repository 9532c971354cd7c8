"""The RabbitMQ metrics the dashboards and alerts read exist: a real node with its
Prometheus plugin, the platform's topology declared, scraped on the two paths
deploy/prometheus.yml scrapes (/metrics and /metrics/detailed with its families)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kombu import Connection

from onestop import dashboards
from onestop.localservers import RabbitMQ, free_port, wait_port
from onestop.topology import declare_broker_topology
from shared.config import load_settings
from tests.support import need, wait_for

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


class PrometheusRabbitMQ(RabbitMQ):
    """A throwaway node with the rabbitmq_prometheus plugin on a loopback port."""

    prometheus_port: int = 0

    def _env(self) -> dict[str, str]:
        env = super()._env()
        (self.base / "enabled_plugins").write_text("[rabbitmq_prometheus].\n")
        with open(self.base / "rabbitmq.conf", "a") as conf:
            conf.write(f"prometheus.tcp.port = {self.prometheus_port}\n")
            conf.write("prometheus.tcp.ip = 127.0.0.1\n")
        return env


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusRabbitMQ]:
    need(RabbitMQ.available(), "rabbitmq-server")
    mq = PrometheusRabbitMQ()
    mq.prometheus_port = free_port()
    mq.start()
    try:
        wait_port(mq.prometheus_port, 60, mq.proc)
        settings = load_settings(
            {
                "ONESTOP_BROKER_URL": mq.url,
                "ONESTOP_DATA_DIR": str(tmp_path_factory.mktemp("var")),
            }
        )
        declare_broker_topology(settings)
        # a quorum queue's statistics reach the plugin a few seconds after its declaration
        wait_for(
            lambda: (
                'rabbitmq_detailed_queue_consumers{vhost="/",queue="intake.on_directory"}'
                in scrape(mq, "rabbitmq-queues")
            ),
            60,
        )
        yield mq
    finally:
        mq.destroy()


def scrape(node: PrometheusRabbitMQ, job: str) -> str:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [scrape_config] = [j for j in config["scrape_configs"] if j["job_name"] == job]
    params: Any = scrape_config.get("params", {})
    url = f"http://127.0.0.1:{node.prometheus_port}{scrape_config['metrics_path']}"
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200
    return response.text


def names(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][\w:]*)[{ ]", text, re.M)}


def test_every_rabbitmq_metric_used_is_exported_on_the_paths_prometheus_scrapes(
    node: PrometheusRabbitMQ,
) -> None:
    exported = names(scrape(node, "rabbitmq")) | names(scrape(node, "rabbitmq-queues"))
    assert sorted(dashboards.RABBITMQ_METRICS - exported) == []


def test_the_queue_families_label_each_consumer_queue_and_its_dlq(
    node: PrometheusRabbitMQ,
) -> None:
    with Connection(node.url) as conn:  # one message waits in intake.on_directory.dlq
        conn.Producer().publish({}, exchange="onestop.dlx", routing_key="intake.on_directory")

    def value(metric: str, queue: str) -> float:
        text = scrape(node, "rabbitmq-queues")
        m = re.search(rf'^{metric}{{vhost="/",queue="{re.escape(queue)}"}} (\S+)$', text, re.M)
        assert m, f"{metric} of {queue} not exported"
        return float(m.group(1))

    assert value("rabbitmq_detailed_queue_consumers", "intake.on_directory") == 0
    assert value("rabbitmq_detailed_queue_messages_ready", "intake.on_directory") == 0
    # the broker refreshes its queue statistics every few seconds
    wait_for(lambda: value("rabbitmq_detailed_queue_messages", "intake.on_directory.dlq") == 1, 30)
