"""deploy/alertmanager/alertmanager.yml: amtool checks it and routes by severity; the real
Alertmanager, started on loopback with the webhook and the mail relay pointed at this test,
delivers a critical alert to the webhook and by mail, a warning by mail, and inhibits the
warning of a service that has a critical one."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from onestop.localservers import free_port, terminate, wait_port
from tests.support import need, wait_for
from tests.unit.deploy.support import DEPLOY, run

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def route(*labels: str) -> str:
    done = run("amtool", "config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_amtool_checks_the_config() -> None:
    done = run("amtool", "check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "2 inhibit rules" in done.stdout


def test_a_critical_alert_goes_to_on_call_and_a_warning_to_the_operations_mailbox() -> None:
    assert route("severity=critical", "service=intake", "alertname=OnestopTargetDown") == "on-call"
    assert route("severity=warning", "service=intake", "alertname=OnestopOutboxBacklog") == (
        "operations-mail"
    )
    assert route("service=intake", "alertname=Unlabelled") == "operations-mail"


def test_on_call_has_the_webhook_and_mail_and_the_mailbox_the_compose_catcher() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["on-call"]["webhook_configs"][0]["send_resolved"] is True
    assert receivers["on-call"]["email_configs"]
    assert receivers["operations-mail"]["email_configs"]
    assert config["global"]["smtp_smarthost"] == "mailpit:1025"
    assert config["route"]["group_by"] == ["alertname", "service"]


class Webhook(ThreadingHTTPServer):
    """Records the JSON bodies Alertmanager posts."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


class Mailbox:
    """An SMTP relay on loopback (aiosmtpd) that keeps what it is given."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str]] = []  # (recipients, message)
        self.port = free_port()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    relay = Controller(box, hostname="127.0.0.1", port=box.port)
    relay.start()
    yield box
    relay.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: Webhook, mailbox: Mailbox) -> Iterator[str]:
    """The real Alertmanager on loopback with the repository's config, but the webhook
    and the mail relay pointed at this test and no waiting to group."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    need(binary is not None, "prometheus-alertmanager")
    assert binary is not None
    config = yaml.safe_load(CONFIG.read_text())
    port = webhook.server_address[1]
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{mailbox.port}"
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"http://127.0.0.1:{port}/alertmanager"
    for r in [config["route"], *config["route"]["routes"]]:
        r["group_wait"] = "1s"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    listen = free_port()
    with open(tmp_path / "alertmanager.log", "wb") as log:  # the child keeps its own fd
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{listen}",
                "--cluster.listen-address=",  # one instance, no gossip port
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_port(listen, 30, proc)
        url = f"http://127.0.0.1:{listen}"
        wait_for(lambda: httpx.get(f"{url}/-/ready").status_code == 200, timeout=30)
        yield url
    finally:
        terminate(proc, 15, 10)


def alert(name: str, severity: str, service: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": service},
        "annotations": {"summary": f"{name} on {service}"},
    }


def test_alertmanager_delivers_a_critical_alert_to_the_webhook_and_inhibits_the_warning(
    alertmanager: str, webhook: Webhook, mailbox: Mailbox
) -> None:
    sent = [
        alert("OnestopTargetDown", "critical", "intake"),
        alert("OnestopOutboxBacklog", "warning", "intake"),  # inhibited: intake is down
        alert("OnestopHttpLatencyHigh", "warning", "visits"),  # mail only
    ]
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=sent).status_code == 200

    wait_for(lambda: webhook.received, timeout=30)
    [note] = webhook.received
    assert note["receiver"] == "on-call"
    assert note["status"] == "firing"
    assert [a["labels"]["alertname"] for a in note["alerts"]] == ["OnestopTargetDown"]
    assert note["groupLabels"] == {"alertname": "OnestopTargetDown", "service": "intake"}

    def states() -> dict[str, str]:
        got = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        return {
            f"{a['labels']['alertname']}/{a['labels']['service']}": a["status"]["state"]
            for a in got
        }

    wait_for(lambda: states().get("OnestopOutboxBacklog/intake") == "suppressed", timeout=30)
    assert states() == {
        "OnestopTargetDown/intake": "active",
        "OnestopOutboxBacklog/intake": "suppressed",
        "OnestopHttpLatencyHigh/visits": "active",
    }

    # by mail: the critical one to on-call, visits' warning to operations, intake's none
    def mails() -> dict[str, list[str]]:
        got: dict[str, list[str]] = {}
        for recipients, message in mailbox.mails:
            for to in recipients:
                got.setdefault(to, []).append(message)
        return got

    wait_for(lambda: len(mails()) == 2, timeout=30)
    got = mails()
    assert sorted(got) == ["oncall@onestop.example", "operations@onestop.example"]
    [critical] = got["oncall@onestop.example"]
    [warning] = got["operations@onestop.example"]
    assert "OnestopTargetDown" in critical
    assert "OnestopHttpLatencyHigh" in warning
    assert "OnestopOutboxBacklog" not in critical + warning
