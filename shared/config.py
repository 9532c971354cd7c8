"""The one place that reads ``os.environ``.

Every setting has a default that gives the *embedded* shape (SQLite files under
``var/`` and kombu's in-process ``memory://`` transport), so a fresh clone runs
with no configuration at all. The production shape sets a database URL per
service and one broker URL.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The directory (places and credentials) comes first: every other service copies it.
SERVICES: tuple[str, ...] = ("directory", "intake", "dispatch", "visits", "scoring", "archive")
DIRECTORY = "directory"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first when not set)."""
    raw = (env.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of networks (CIDR), each checked."""
    out = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
    for n in out:
        try:
            ipaddress.ip_network(n, strict=False)
        except ValueError as exc:
            raise ValueError(f"{name} must list networks such as 10.20.0.0/16, got {n!r}") from exc
    return out


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


# The RabbitMQ definitions document `onestop topology` writes (a test keeps it current):
# which consumer queue binds which events, readable by a service that must not import
# the others (the archive's replay).
TOPOLOGY_FILE = Path(__file__).resolve().parents[1] / "deploy" / "rabbitmq" / "definitions.json"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    broker_url: str
    database_urls: Mapping[str, str]
    port: int = 8080
    sweep_interval: float = 2.0
    max_attempts: int = 5
    retry_backoff: float = 0.2
    prefetch: int = 50
    consumer_batch: int = 50
    # seconds a consumer waits for a batch to fill (None: its worker's own default)
    consumer_linger: float | None = None
    heartbeat: int = 30
    log_level: str = "INFO"
    log_format: str = "text"  # or json: one object per line (shared.logs)
    metrics_dir: str | None = None
    metrics_port: int = 0  # a worker's /metrics (0: none)
    metrics_addr: str = "0.0.0.0"  # the address it listens on (run-stack: loopback)
    periodic_interval: float = 60.0  # seconds between a worker's periodic jobs
    broker_admin_url: str | None = None  # RabbitMQ management API: provisions agency users
    secret_keys: tuple[str, ...] = ()  # the directory's sealing keys (Fernet), first seals
    credential_cache: float = 30.0  # seconds a service trusts a key it looked up (revocation lag)
    topology_file: Path = TOPOLOGY_FILE  # the platform's queues and bindings (onestop topology)
    # single sign-on with a province's identity platform (OpenID Connect): off without an issuer
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_uri: str | None = None  # default: the callback's URL as the request reached it
    # callbacks to the systems that filed demands (services.intake.callbacks): the delivery
    # job's interval, the retry schedule (base doubling up to the cap, then dead-lettered
    # after the attempts), each request's timeout, whether http://localhost is allowed, and
    # the private networks callbacks may reach (a government network's receivers)
    callback_interval: float = 1.0
    callback_backoff: float = 5.0
    callback_backoff_cap: float = 300.0
    callback_attempts: int = 30
    callback_timeout: float = 10.0
    callback_loopback_http: bool = False
    callback_private_networks: tuple[str, ...] = ()
    # the web console (services.console): where it reaches the services' APIs (the gateway;
    # the embedded default calls them in-process), the key its cookies are signed with
    # (generated under the data directory when not given), and whether its cookies are
    # Secure (behind TLS)
    console_api_url: str | None = None
    console_secret_key: str | None = None
    console_secure_cookies: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when the broker is kombu's in-process transport."""
        return self.broker_url.startswith("memory://")

    def database_url(self, name: str) -> str:
        return self.database_urls[name]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (``os.environ`` when not given)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("ONESTOP_DATA_DIR", "var")).resolve()
    urls = {}
    for name in SERVICES:
        key = f"ONESTOP_{name.upper()}_DATABASE_URL"
        urls[name] = env.get(key) or f"sqlite:///{data_dir / (name + '.db')}"
    return Settings(
        data_dir=data_dir,
        broker_url=env.get("ONESTOP_BROKER_URL", "memory://localhost/"),
        database_urls=urls,
        port=_int(env, "PORT", 8080),
        sweep_interval=_float(env, "ONESTOP_SWEEP_INTERVAL", 2.0),
        max_attempts=_int(env, "ONESTOP_MAX_ATTEMPTS", 5),
        retry_backoff=_float(env, "ONESTOP_RETRY_BACKOFF", 0.2),
        prefetch=_int(env, "ONESTOP_PREFETCH", 50),
        consumer_batch=_int(env, "ONESTOP_CONSUMER_BATCH", 50),
        consumer_linger=(
            None
            if env.get("ONESTOP_CONSUMER_LINGER_MS", "") == ""
            else _int(env, "ONESTOP_CONSUMER_LINGER_MS", 0) / 1000
        ),
        heartbeat=_int(env, "ONESTOP_HEARTBEAT", 30),
        log_level=env.get("ONESTOP_LOG_LEVEL", "INFO"),
        log_format=_choice(env, "ONESTOP_LOG_FORMAT", ("text", "json")),
        metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        metrics_port=_int(env, "ONESTOP_METRICS_PORT", 0),
        metrics_addr=env.get("ONESTOP_METRICS_ADDR") or "0.0.0.0",
        periodic_interval=_float(env, "ONESTOP_PERIODIC_INTERVAL", 60.0),
        broker_admin_url=env.get("ONESTOP_BROKER_ADMIN_URL") or None,
        credential_cache=_float(env, "ONESTOP_CREDENTIAL_CACHE", 30.0),
        secret_keys=tuple(
            k.strip() for k in env.get("ONESTOP_SECRET_KEYS", "").split(",") if k.strip()
        ),
        topology_file=Path(env.get("ONESTOP_TOPOLOGY_FILE") or TOPOLOGY_FILE),
        callback_interval=_float(env, "ONESTOP_CALLBACK_INTERVAL", 1.0),
        callback_backoff=_float(env, "ONESTOP_CALLBACK_BACKOFF", 5.0),
        callback_backoff_cap=_float(env, "ONESTOP_CALLBACK_BACKOFF_CAP", 300.0),
        callback_attempts=_int(env, "ONESTOP_CALLBACK_ATTEMPTS", 30),
        callback_timeout=_float(env, "ONESTOP_CALLBACK_TIMEOUT", 10.0),
        # plain http to a loopback address: the embedded default, tests and benchmarks only
        callback_loopback_http=_bool(
            env,
            "ONESTOP_CALLBACK_LOOPBACK_HTTP",
            env.get("ONESTOP_BROKER_URL", "memory://").startswith("memory://"),
        ),
        callback_private_networks=_networks(env, "ONESTOP_CALLBACK_PRIVATE_NETWORKS"),
        console_api_url=(env.get("ONESTOP_CONSOLE_API_URL") or "").rstrip("/") or None,
        console_secret_key=env.get("ONESTOP_CONSOLE_SECRET_KEY") or None,
        console_secure_cookies=_bool(env, "ONESTOP_CONSOLE_SECURE_COOKIES", False),
        **_oidc(env),
    )


OIDC_SETTINGS = ("oidc_issuer", "oidc_client_id", "oidc_client_secret", "oidc_redirect_uri")


def _oidc(env: Mapping[str, str]) -> dict[str, Any]:
    """The single sign-on settings (``ONESTOP_OIDC_*``): all off without the issuer; with
    it, the client's id and secret are required."""
    values = {n: (env.get(f"ONESTOP_{n.upper()}") or "").strip() or None for n in OIDC_SETTINGS}
    if values["oidc_issuer"] is None:
        return dict.fromkeys(values)
    for name in ("oidc_client_id", "oidc_client_secret"):
        if values[name] is None:
            raise ValueError(f"ONESTOP_{name.upper()} is required with ONESTOP_OIDC_ISSUER")
    return values


def explicit_infrastructure(
    env: Mapping[str, str] | None = None,
) -> tuple[str | None, dict[str, str]]:
    """The broker URL and database URLs that were *given* (for ``run-stack``).

    Returns ``(broker_url or None, {name: url})`` with the database URLs only
    when all of them are set; ``run-stack`` starts local servers for the rest.
    """
    env = os.environ if env is None else env
    urls = {n: env.get(f"ONESTOP_{n.upper()}_DATABASE_URL", "") for n in SERVICES}
    return env.get("ONESTOP_BROKER_URL") or None, (urls if all(urls.values()) else {})
