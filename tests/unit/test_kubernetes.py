"""The Kubernetes manifests (compose/k8s) are valid, complete, and hold the contracts'
identities: validated offline against the Kubernetes API's schemas (kubernetes-validate) and
KEDA's CRDs (as cloudcoil-models-keda generates them), with no cluster."""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from waitkit import eventually

from agentlist.api.metrics import prometheus
from agentlist.api.routes.meta import router as meta_router
from agentlist.cli import SERVICES
from agentlist.contracts.access import (
    NATS_PERMISSIONS,
    POSTGRES_ROLES,
    REDIS_ROLES,
    nats_authorization_from_env,
    password_variable,
    redis_user_arguments,
)
from agentlist.core import nats as mesh_nats
from agentlist.core.nats import events_stream_config
from agentlist.core.settings import MeshSettings
from agentlist.launcher import binaries
from agentlist.launcher.credentials import (
    DATABASE_ROLES,
    K8S_CREDENTIALS,
    K8S_DATABASE,
    NATS_ROUTE_USER,
    k8s_manifest,
)
from agentlist.launcher.credentials import (
    main as credentials_main,
)
from agentlist.launcher.process import free_port, port_open
from agentlist.worker.runtime import WorkerRuntime

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
K8S = COMPOSE / "k8s"
KUBERNETES_VERSIONS = ("1.29", "1.37")
"""The oldest Kubernetes the manifests promise to run on, and the newest the validator knows."""

Manifest = dict[str, Any]


def _documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@cache
def _all() -> tuple[Manifest, ...]:
    return tuple(doc for path in _manifest_files() for doc in _documents(path))


def _one(kind: str, name: str) -> Manifest:
    found = [d for d in _all() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} manifests"
    return found[0]


def _workloads() -> Iterator[Manifest]:
    yield from (d for d in _all() if d["kind"] in ("Deployment", "StatefulSet", "Job"))


def _container(workload: Manifest) -> Manifest:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


@cache
def _generated() -> dict[str, dict[str, str]]:
    """What ``agentlist credentials k8s --trial`` writes: each Secret's keys and values."""
    return {
        item["metadata"]["name"]: item["stringData"]
        for item in k8s_manifest(trial=True)["items"]  # type: ignore[attr-defined]
    }


# -- validation -----------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """Reject fields the CRD does not know, as the API server's structural schemas do (the
    generated models would ignore them)."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)
    return schema


@cache
def _keda_validator(kind: str) -> jsonschema.Draft202012Validator:
    model = {"ScaledObject": keda.ScaledObject, "TriggerAuthentication": keda.TriggerAuthentication}
    return jsonschema.Draft202012Validator(_strict(model[kind].model_json_schema(by_alias=True)))


def _problems(manifest: Manifest) -> list[str]:
    if manifest["apiVersion"].startswith("keda.sh/"):
        validator = _keda_validator(manifest["kind"])
        return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(manifest)]
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{version}: {'.'.join(map(str, exc.path))}: {exc.message}")
    return problems


def test_every_manifest_validates_against_the_kubernetes_and_keda_schemas() -> None:
    assert _manifest_files(), K8S
    for path in _manifest_files():
        for manifest in _documents(path):
            where = f"{path.relative_to(K8S)}: {manifest['kind']}/{manifest['metadata']['name']}"
            assert not _problems(manifest), (where, _problems(manifest))


def test_the_validation_refuses_a_misspelt_field() -> None:
    """The check above can fail: an unknown field, core or KEDA, is an error."""
    api = copy.deepcopy(_one("Deployment", "api"))
    api["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert _problems(api)
    scaled = copy.deepcopy(_one("ScaledObject", "worker"))
    scaled["spec"]["minReplicas"] = 1
    assert _problems(scaled)
    scaled = copy.deepcopy(_one("ScaledObject", "worker"))
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 8  # KEDA wants strings
    assert _problems(scaled)


def test_each_kustomization_lists_files_that_exist_and_every_manifest_is_listed() -> None:
    listed: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text())["resources"]:
            target = (kustomization.parent / resource).resolve()
            assert target.exists(), (kustomization, resource)
            listed |= {target} if target.is_file() else {target / "kustomization.yaml"}
    assert set(_manifest_files()) <= listed
    for variant in (K8S, K8S / "trial"):
        assert variant / "kustomization.yaml" in set(K8S.rglob("kustomization.yaml"))


# -- the services ---------------------------------------------------------------------------


def test_every_service_of_the_mesh_has_a_deployment_from_its_image() -> None:
    for name in SERVICES:
        container = _container(_one("Deployment", name))
        if name == "worker":  # the worker-only image, as a worker team's image would be
            assert container["image"].startswith("agentlist-worker:")
            assert container["args"][0] == "--config"
        else:
            assert container["image"].startswith("agentlist:")
            assert container["args"] == [name]
    migrate = _container(_one("Job", "agentlist-migrate"))
    assert migrate["image"].startswith("agentlist:") and migrate["args"] == ["migrate"]


def test_every_pod_runs_unprivileged_with_a_read_only_root_and_bounded_resources() -> None:
    for workload in _workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in security["capabilities"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) <= set(resources["limits"])


@pytest.mark.parametrize("service", ["scheduler", "registry", "bridge", "worker"])
def test_each_service_is_probed_on_the_health_port_it_serves(service: str) -> None:
    container = _container(_one("Deployment", service))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = _environment(container)
    prefix = f"AGENTLIST_{service.upper()}_"
    # The port the process binds (its settings' prefix) is the port the kubelet calls.
    assert int(env[f"{prefix}HEALTH_PORT"]) == ports["health"]
    assert env[f"{prefix}HEALTH_HOST"] == "0.0.0.0"
    for probe, path in (
        ("startupProbe", "/livez"),
        ("livenessProbe", "/livez"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "health"}, probe


def test_the_api_is_probed_on_its_own_liveness_and_health_routes() -> None:
    container = _container(_one("Deployment", "api"))
    routes = {route.path for route in meta_router.routes}  # type: ignore[attr-defined]
    liveness = container["livenessProbe"]["httpGet"]["path"]
    readiness = container["readinessProbe"]["httpGet"]["path"]
    assert (liveness, readiness) == ("/ok", "/health")
    assert {liveness, readiness} <= routes
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = _environment(container)
    assert int(env["PORT"]) == ports["http"] and env["HOST"] == "0.0.0.0"
    assert (
        env["AUTH_ENABLED"] == "true"
        and env["JWT_SECRET"] == _generated()[K8S_CREDENTIALS]["JWT_SECRET"]
    )


def test_every_deployment_and_statefulset_of_the_mesh_has_a_disruption_budget() -> None:
    """The trial's one-pod Postgres and Valkey have none: it would block every node drain."""
    budgets = [d for d in _all() if d["kind"] == "PodDisruptionBudget"]
    mesh = [d for path in sorted((K8S / "mesh").glob("*.yaml")) for d in _documents(path)]
    for workload in (d for d in mesh if d["kind"] in ("Deployment", "StatefulSet")):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, workload["metadata"]["name"]
    # NATS keeps its JetStream quorum: two servers of three.
    assert _one("PodDisruptionBudget", "nats")["spec"]["maxUnavailable"] == 1


def test_a_worker_is_given_longer_to_stop_than_its_drain_takes() -> None:
    """SIGTERM drains (tests/integration/test_worker_service.py): the runs held get the drain
    grace, then the time to hand back the rest, then 5 s (WorkerRuntime.finish_draining)."""
    worker = _one("Deployment", "worker")
    env = _environment(_container(worker))
    drain = float(env["AGENTLIST_WORKER_DRAIN_GRACE_SECONDS"])
    release = inspect.signature(WorkerRuntime.finish_draining).parameters["release_seconds"]
    longest_stop = drain + release.default + 5
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > longest_stop


def test_the_workers_scale_on_their_graphs_runs_and_shed_slowly() -> None:
    scaled = _one("ScaledObject", "worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "worker"
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    down = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    worker = _one("Deployment", "worker")
    drain = float(_environment(_container(worker))["AGENTLIST_WORKER_DRAIN_GRACE_SECONDS"])
    assert down["stabilizationWindowSeconds"] >= drain
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "prometheus"
    assert {"serverAddress", "query", "threshold"} <= set(trigger["metadata"])
    query = trigger["metadata"]["query"]
    # The metric and labels are the API's (/metrics), the graphs those the Deployment serves.
    exported = prometheus(
        {"runs": [{"status": "pending", "graph_id": "g", "n": 1}], "workers": []}
        | {"oldest_pending_seconds": 0, "graphs": [], "pools": []}
    )
    assert 'agentlist_runs{graph_id="g",status="pending"} 1' in exported
    assert query.startswith("sum(max by (graph_id) (agentlist_runs{")
    graphs = re.search(r'graph_id=~"([^"]+)"', query)
    assert graphs is not None
    served = json.loads(_served_config(_container(worker)).read_text())["graphs"]
    assert set(graphs.group(1).split("|")) == set(served)


def _served_config(container: Manifest) -> Path:
    """The langgraph.json a worker container serves, in this checkout (the image installs the
    worker package where the path says)."""
    path: str = container["args"][container["args"].index("--config") + 1]
    marker = "site-packages/agentlist/worker/"
    assert marker in path, path
    base = re.search(
        r"FROM python:(\d+\.\d+)-slim AS runtime", (COMPOSE / "Dockerfile").read_text()
    )
    assert base is not None and path.startswith(f"/usr/local/lib/python{base[1]}/{marker}")
    served = Path(str(files("agentlist.worker"))) / path.split(marker, 1)[1]
    assert served.is_file(), served
    return served


def test_the_api_scales_on_cpu() -> None:
    hpa = _one("HorizontalPodAutoscaler", "api")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "replicas" not in _one("Deployment", "api")["spec"]  # the HPA owns the count
    assert "replicas" not in _one("Deployment", "worker")["spec"]  # and KEDA this one


def test_the_images_run_as_the_user_the_pods_name() -> None:
    """compose/Dockerfile: the mesh image's entry point is ``agentlist`` (the Deployments pass
    the service's name), the worker image's ``agentlist-worker``, both as uid 10001."""
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    uid = re.search(r"useradd --system --uid (\d+) agentlist", dockerfile)
    assert uid is not None
    entry_points = dict(
        re.findall(r"FROM runtime AS (\w+)\n(?:.*\n)*?ENTRYPOINT \[\"([\w-]+)\"\]", dockerfile)
    )
    assert entry_points == {"worker": "agentlist-worker", "mesh": "agentlist"}
    for workload in _workloads():
        container = _container(workload)
        if container["image"].split(":")[0] in ("agentlist", "agentlist-worker"):
            pod = workload["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsUser"] == int(uid.group(1))


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    expressions = selector.get("matchExpressions", [])
    assert all(e["operator"] == "In" for e in expressions)
    return selector.get("matchLabels", {}).items() <= labels.items() and all(
        labels.get(e["key"]) in e["values"] for e in expressions
    )


def _admitted(policy: str, labels: Mapping[str, str], port: int) -> bool:
    rules = _one("NetworkPolicy", policy)["spec"]["ingress"]
    return any(
        any(p["port"] == port for p in rule["ports"])
        and any(_selects(peer["podSelector"], labels) for peer in rule["from"])
        for rule in rules
    )


def test_the_network_policies_admit_each_pod_to_the_servers_it_uses_and_no_further() -> None:
    for workload in _workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        env = _environment(_container(workload))
        name = workload["metadata"]["name"]
        if "NATS_URL" in env:
            assert _admitted("nats", labels, 4222), name
        assert _admitted("nats", labels, 6222) == (name == "nats"), name
        assert _admitted("valkey", labels, 6379) == ("REDIS_URL" in env), name
        if "DATABASE_URL" in env:
            assert _admitted("postgres", labels, 5432), name
        # What serves no port takes no connection.
        if not _container(workload).get("ports"):
            closed = _one("NetworkPolicy", "agentlist-no-ingress")["spec"]
            assert _selects(closed["podSelector"], labels) and "ingress" not in closed, name


# -- identities -----------------------------------------------------------------------------


def _config_maps() -> dict[str, Mapping[str, str]]:
    return {d["metadata"]["name"]: d["data"] for d in _all() if d["kind"] == "ConfigMap"}


def _environment(container: Manifest) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in order,
    each ``$(VAR)`` filled in from the variables defined before it, Secrets as generated."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_config_maps()[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = _expand(variable["value"], env)
        elif "secretKeyRef" in variable["valueFrom"]:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = _generated()[ref["name"]][ref["key"]]
        else:
            env[variable["name"]] = f"<{variable['name']}>"
    return env


def _expand(value: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def _secret_refs() -> set[tuple[str, str]]:
    refs = set()
    for workload in _workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
    return refs


def test_the_secrets_read_are_exactly_those_agentlist_credentials_k8s_writes() -> None:
    generated = {(name, key) for name, values in _generated().items() for key in values}
    assert _secret_refs() == generated
    credentials = set(_generated()[K8S_CREDENTIALS])
    assert {password_variable("nats", role) for role in NATS_PERMISSIONS} <= credentials
    assert {password_variable("redis", role) for role in REDIS_ROLES} <= credentials
    # External Postgres: the operator writes the same keys, one DATABASE_URL per role.
    assert set(DATABASE_ROLES) <= set(_generated()[K8S_DATABASE])


def test_agentlist_credentials_k8s_prints_secrets_kubectl_applies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    credentials_main(["k8s", "--trial"])
    printed = json.loads(capsys.readouterr().out)
    assert (printed["apiVersion"], printed["kind"]) == ("v1", "List")
    assert {item["metadata"]["name"] for item in printed["items"]} == {
        K8S_CREDENTIALS,
        K8S_DATABASE,
    }
    for secret in printed["items"]:
        assert not _problems(secret), secret["metadata"]["name"]
    credentials_main(["k8s"])
    (alone,) = json.loads(capsys.readouterr().out)["items"]
    assert alone["metadata"]["name"] == K8S_CREDENTIALS
    assert alone["stringData"].keys() == _generated()[K8S_CREDENTIALS].keys()
    assert alone["stringData"]["JWT_SECRET"] != _generated()[K8S_CREDENTIALS]["JWT_SECRET"]


def test_each_service_connects_as_its_role_with_its_own_passwords() -> None:
    secrets = _generated()[K8S_CREDENTIALS]
    database = _generated()[K8S_DATABASE]
    for name in SERVICES:
        deployment = _one("Deployment", name)
        env = _environment(_container(deployment))
        nats_url = urlsplit(env["NATS_URL"])
        assert (nats_url.username, nats_url.password, nats_url.hostname) == (
            name,
            secrets[password_variable("nats", name)],
            "nats",
        ), name
        if name in REDIS_ROLES:
            redis_url = urlsplit(env["REDIS_URL"])
            assert (redis_url.username, redis_url.password, redis_url.hostname) == (
                name,
                secrets[password_variable("redis", name)],
                "valkey",
            ), name
        else:
            assert "REDIS_URL" not in env, name
        assert env["DATABASE_URL"] == database[name], name
    migrate = _one("Job", "agentlist-migrate")
    assert _environment(_container(migrate))["DATABASE_URL"] == database["migrate"]


# -- NATS -------------------------------------------------------------------------------------


def test_nats_is_a_cluster_of_three_with_jetstream_fsynced_and_the_compose_version() -> None:
    nats = _one("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    config = _config_maps()["nats-config"]["nats.conf"]
    assert re.search(r'jetstream \{[^}]*store_dir: "/data"[^}]*sync_interval: "always"', config)
    assert _one("Service", "nats-cluster")["spec"]["clusterIP"] == "None"
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    assert _container(nats)["image"] == compose["services"]["nats"]["image"]
    # Mesh-wide: the events stream at three replicas, once core reads it (see the report).
    assert _config_maps()["agentlist-mesh"]["AGENTLIST_EVENTS_REPLICAS"] == "3"


def test_nats_users_are_the_contracts_as_compose_has_them() -> None:
    users = _config_maps()["nats-config"]["nats-users.conf"]
    assert users == (COMPOSE / "nats-users.conf").read_text()
    assert nats_authorization_from_env() in users
    nats = _one("StatefulSet", "nats")
    env = _environment(_container(nats))
    secrets = _generated()[K8S_CREDENTIALS]
    for role in NATS_PERMISSIONS:
        assert env[password_variable("nats", role)] == secrets[password_variable("nats", role)]


def test_nats_routes_authenticate_as_the_route_user() -> None:
    nats = _one("StatefulSet", "nats")
    container = _container(nats)
    env = _environment(container)
    routes = container["args"][container["args"].index("--routes") + 1].split(",")
    replicas = nats["spec"]["replicas"]
    password = _generated()[K8S_CREDENTIALS][password_variable("nats", NATS_ROUTE_USER)]
    assert len(routes) == replicas
    for index, route in enumerate(routes):
        url = urlsplit(_expand(route, env))
        assert (url.username, url.password) == (NATS_ROUTE_USER, password)
        assert url.hostname == f"nats-{index}.{nats['spec']['serviceName']}"
    config = _config_maps()["nats-config"]["nats.conf"]
    assert re.search(
        rf'cluster \{{.*authorization \{{\s*user: "{NATS_ROUTE_USER}"\s*password: '
        rf"\${password_variable('nats', NATS_ROUTE_USER)}",
        config,
        re.DOTALL,
    )


def test_every_generated_password_is_one_nats_server_reads_as_a_string() -> None:
    """A variable's value starting with ``-`` (1 in 64 of random URL-safe strings), or with
    digits and a ``-``, is a number or a date to nats-server, which then refuses to start."""
    for _ in range(50):
        for password in _fresh_passwords():
            assert password[0].isalpha(), password


def _fresh_passwords() -> list[str]:
    manifest: Any = k8s_manifest(trial=True)
    secrets = {item["metadata"]["name"]: item["stringData"] for item in manifest["items"]}
    return [*secrets[K8S_CREDENTIALS].values(), secrets[K8S_DATABASE]["POSTGRES_PASSWORD"]]


def test_nats_server_accepts_the_rendered_config_and_arguments(tmp_path: Path) -> None:
    nats = _one("StatefulSet", "nats")
    container = _container(nats)
    env = _environment(container) | {"POD_NAME": "nats-0"}
    for name, text in _config_maps()["nats-config"].items():
        (tmp_path / name).write_text(text)
    arguments = [_expand(a, env).replace("/etc/nats/", f"{tmp_path}/") for a in container["args"]]
    checked = subprocess.run(
        [str(binaries.nats_server()), *arguments, "-t"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    assert checked.returncode == 0, checked.stderr


class _LocalServer:
    """One server of the StatefulSet, run here: the ConfigMap's config with loopback ports
    and a folder of its own, the container's arguments and environment."""

    def __init__(self, folder: Path, index: int, route_ports: list[int], route_password: str):
        nats = _one("StatefulSet", "nats")
        container = _container(nats)
        self.client_port, self.log = free_port(), folder / "nats.log"
        config = _config_maps()["nats-config"]
        replaced = {
            '"0.0.0.0:4222"': f'"127.0.0.1:{self.client_port}"',
            '"127.0.0.1:8222"': f'"127.0.0.1:{free_port()}"',
            '"0.0.0.0:6222"': f'"127.0.0.1:{route_ports[index]}"',
            '"/data"': f'"{folder}/data"',
            "/var/run/nats/nats.pid": f"{folder}/nats.pid",
        }
        text = config["nats.conf"]
        for old, new in replaced.items():
            assert old in text, old
            text = text.replace(old, new)
        (folder / "nats.conf").write_text(text)
        (folder / "nats-users.conf").write_text(config["nats-users.conf"])
        env = _environment(container) | {"POD_NAME": f"nats-{index}"}
        routes = ",".join(f"nats://route:{route_password}@127.0.0.1:{p}" for p in route_ports[:3])
        with self.log.open("w") as log:
            command = [str(binaries.nats_server()), "--config", str(folder / "nats.conf")]
            self.process = subprocess.Popen(
                [*command, "--routes", routes],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@contextlib.asynccontextmanager
async def _cluster(folder: Path, passwords: list[str]) -> AsyncIterator[list[_LocalServer]]:
    """One server per password, each presenting it on its routes to the first three (the
    StatefulSet's), which route to one another only."""
    ports = [free_port() for _ in range(3)] + [free_port() for _ in passwords[3:]]
    servers: list[_LocalServer] = []
    try:
        for index, password in enumerate(passwords):
            (folder / f"nats-{index}").mkdir()
            servers.append(_LocalServer(folder / f"nats-{index}", index, ports, password))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_three_nats_servers_replicate_the_events_stream_and_admit_no_other_server(
    tmp_path: Path,
) -> None:
    """Three servers as the StatefulSet runs them: the scheduler's user creates the run events
    stream at three replicas; a server presenting another route password is refused."""
    secrets = _generated()[K8S_CREDENTIALS]
    route_password = secrets[password_variable("nats", NATS_ROUTE_USER)]
    async with _cluster(tmp_path, [route_password] * 3 + ["not-the-route-password"]) as servers:
        await eventually(lambda: port_open(servers[0].client_port), within=10, what="NATS up")
        url = f"nats://scheduler:{secrets[password_variable('nats', 'scheduler')]}@127.0.0.1"
        nc = await mesh_nats.connect(f"{url}:{servers[0].client_port}", name="k8s-test")
        try:
            replicas = MeshSettings.model_validate(_mesh_environment()).events_replicas
            assert replicas == 3
            config = events_stream_config(3600, replicas)

            async def create() -> Any:
                with contextlib.suppress(Exception):  # until JetStream has its meta leader
                    return await nc.jetstream().add_stream(config)
                return None

            info = await eventually(create, within=30, what="a stream of three replicas")
        finally:
            await nc.close()
        assert info.cluster.name == "agentlist"
        assert {info.cluster.leader, *(r.name for r in info.cluster.replicas)} == {
            "nats-0",
            "nats-1",
            "nats-2",
        }
        await eventually(
            lambda: "Authorization Violation" in servers[3].log.read_text(),
            within=10,
            what="the fourth server refused on its routes",
        )


# -- the trial's servers ----------------------------------------------------------------------


def test_the_trial_valkey_has_the_contracts_users_and_protected_mode() -> None:
    valkey = _one("StatefulSet", "valkey")
    container = _container(valkey)
    assert container["args"][1:] == redis_user_arguments(
        lambda role: f"$({password_variable('redis', role)})"
    )
    env = _environment(container)
    secrets = _generated()[K8S_CREDENTIALS]
    filled = [_expand(argument, env) for argument in container["args"][1:]]
    assert filled == redis_user_arguments(lambda role: secrets[password_variable("redis", role)])
    config = _config_maps()["valkey-config"]["valkey.conf"]
    assert config == (COMPOSE / "valkey.conf").read_text()
    assert "protected-mode yes" in config.splitlines()


def test_the_trial_database_urls_are_the_owner_s_and_each_role_s_as_migrate_sets_them() -> None:
    """The owner (``migrate``) is the trial Postgres's superuser; each service connects as its
    own role, with the password the migrate Job gives that role."""
    postgres = _environment(_container(_one("StatefulSet", "postgres")))
    migrate = _environment(_container(_one("Job", "agentlist-migrate")))
    urls = {role: urlsplit(_generated()[K8S_DATABASE][role]) for role in DATABASE_ROLES}
    for url in urls.values():
        assert (url.hostname, url.port, url.path) == (
            "postgres",
            5432,
            f"/{postgres['POSTGRES_DB']}",
        )
    owner = urls.pop("migrate")
    assert (owner.username, owner.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    for role, url in urls.items():
        password = migrate[password_variable("postgres", role)]
        assert (url.username, url.password) == (POSTGRES_ROLES[role], password)


@pytest.mark.parametrize("name", ["valkey", "postgres"])
def test_postgres_and_valkey_are_external_unless_on_trial(name: str) -> None:
    default = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    trial = yaml.safe_load((K8S / "trial" / "kustomization.yaml").read_text())["resources"]
    assert f"{name}.yaml" in trial and f"{name}.yaml" not in default
    external = _documents(K8S / "external-valkey.yaml")
    assert [(d["kind"], d["metadata"]["name"], d["spec"]["type"]) for d in external] == [
        ("Service", "valkey", "ExternalName")
    ]


def _mesh_environment() -> dict[str, str]:
    """The mesh-wide settings every pod reads from the ConfigMap ``agentlist-mesh``, as the
    settings classes read them."""
    return {key: str(value) for key, value in _config_maps()["agentlist-mesh"].items()}
