"""`creds`, `status` and the end of `up` against real Secrets and workloads.

These commands look in fixed namespaces (kubeflow, monitoring, auth), so this module
runs its own testbed: nothing another test installed there can change the answers,
and nothing left here can disturb another test.
"""

from __future__ import annotations

import json
import socket

import bcrypt
import pytest

from kfbootstrap import components
from kfbootstrap.access import forwards
from tests.cli_helpers import run_cli
from tests.integration.conftest import _locate
from tests.testbed.cluster import Testbed, free_ports, wait_until

DEX_DEFAULT_HASH = "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72"  # upstream's hash of 12341234
NOWHERE = {"kfbootstrap.test/no-such-node": "true"}  # a nodeSelector no node matches: the pod stays Pending


@pytest.fixture(scope="module")
def bed():
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir, nodes=1) as testbed:
        for namespace in ("kubeflow", "monitoring", "auth", "istio-system"):
            testbed.kubectl("create", "namespace", namespace)
        yield testbed


@pytest.fixture(autouse=True)
def kube_env(bed, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", bed.context)
    monkeypatch.setenv("KFBOOTSTRAP_KUBEFLOW__VERSION", "26.03")  # its names; 26.03.1 in test_release_26_03_1.py
    yield
    forwards.stop_all()


def secret(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def service(name: str, port: int, selector: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector or {"app": name}, "ports": [{"port": port, "targetPort": port}]},
    }


def deployment(
    name: str, image: str, labels: dict[str, str] | None = None, ready: bool = True, replicas: int = 1
) -> dict:
    selector = {"app": name}
    pod_spec: dict = {"containers": [{"name": name, "image": image}]}
    if not ready:
        pod_spec["nodeSelector"] = NOWHERE
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**selector, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector}, "spec": pod_spec},
        },
    }


def delete(bed, kind: str, name: str, namespace: str) -> None:
    bed.kubectl("delete", kind, name, "-n", namespace, "--ignore-not-found", "--wait=true")


# ------------------------------------------------------------------------------------------ creds


def test_creds_minio_json_shape_and_the_release_s_service(bed, capsys):
    bed.apply(
        [
            secret("mlpipeline-minio-artifact", {"accesskey": "minio", "secretkey": "minio123"}),
            service("seaweedfs", 9000),
        ],
        namespace="kubeflow",
    )
    result = run_cli(capsys, "creds", "minio", "--json")
    assert result.code == 0, result.text
    assert json.loads(result.out) == {
        "target": "minio",
        "namespace": "kubeflow",
        "secret": "mlpipeline-minio-artifact",
        "access_key": "minio",
        "secret_key": "minio123",
        "url": None,
        "endpoint": "http://127.0.0.1:9000",
        "cluster_endpoint": "http://seaweedfs.kubeflow.svc.cluster.local:9000",
        "service": "seaweedfs",
        "notes": [],
    }
    text = run_cli(capsys, "creds", "minio")
    assert "access key: minio" in text.out and "secret key: minio123" in text.out
    assert "endpoint: http://127.0.0.1:9000" in text.out


def test_creds_minio_finds_minio_service_on_older_releases(bed, capsys):
    with bed.namespace("older") as namespace:
        bed.apply(
            [secret("mlpipeline-minio-artifact", {"accesskey": "a", "secretkey": "b"}), service("minio-service", 9000)],
            namespace=namespace,
        )
        result = run_cli(capsys, "creds", "minio", "-n", namespace, "--json")
    assert result.code == 0, result.text
    body = json.loads(result.out)
    assert (body["service"], body["access_key"], body["secret_key"]) == ("minio-service", "a", "b")


def test_creds_grafana(bed, capsys):
    bed.apply(
        [secret("grafana", {"admin-user": "admin", "admin-password": "pa55-w0rd", "ldap-toml": ""})],
        namespace="monitoring",
    )
    try:
        result = run_cli(capsys, "creds", "grafana", "--json")
        assert result.code == 0, result.text
        body = json.loads(result.out)
        assert set(body) == {"target", "namespace", "secret", "username", "password", "url", "notes"}
        assert (body["username"], body["password"], body["url"]) == ("admin", "pa55-w0rd", "http://127.0.0.1:3000/")
        text = run_cli(capsys, "creds", "grafana")
        assert "username: admin" in text.out and "password: pa55-w0rd" in text.out
        assert "from: secret grafana in namespace monitoring" in text.out
    finally:
        delete(bed, "secret", "grafana", "monitoring")


def test_creds_kubeflow_says_the_password_is_the_public_default(bed, capsys):
    bed.apply([secret("dex-passwords", {"DEX_USER_PASSWORD": DEX_DEFAULT_HASH})], namespace="auth")
    result = run_cli(capsys, "creds", "kubeflow", "--json")
    assert result.code == 0, result.text
    body = json.loads(result.out)
    assert (body["username"], body["password"], body["default_password"]) == ("user@example.com", "12341234", True)
    assert "kfbootstrap passwd" in body["how_to_change"] and "dex-passwords" in body["how_to_change"]
    text = run_cli(capsys, "creds", "kubeflow")
    assert "password: 12341234" in text.out
    assert "public default password" in text.err and "kfbootstrap passwd" in text.err


def test_creds_kubeflow_after_the_password_was_changed(bed, capsys):
    changed = bcrypt.hashpw(b"not-the-default", bcrypt.gensalt(4)).decode()
    dex_config = "staticPasswords:\n- email: admin@corp.example\n  hashFromEnv: DEX_USER_PASSWORD\n  username: admin\n"
    bed.apply(
        [
            secret("dex-passwords", {"DEX_USER_PASSWORD": changed}),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dex"}, "data": {"config.yaml": dex_config}},
        ],
        namespace="auth",
    )
    try:
        result = run_cli(capsys, "creds", "kubeflow", "--json")
        assert result.code == 0, result.text
        body = json.loads(result.out)
        assert (body["username"], body["password"], body["default_password"]) == ("admin@corp.example", None, False)
        assert "cannot be recovered" in " ".join(body["notes"])
        assert changed not in result.out  # the hash is not a credential anyone needs to see
    finally:
        bed.apply([secret("dex-passwords", {"DEX_USER_PASSWORD": DEX_DEFAULT_HASH})], namespace="auth")
        delete(bed, "configmap", "dex", "auth")


def test_creds_missing_secret_names_namespace_and_secret(bed, capsys):
    result = run_cli(capsys, "creds", "grafana")
    assert result.code == 1
    assert "error: secret grafana not found in namespace monitoring" in result.err
    assert "hint: is Grafana installed?" in result.err
    assert "Traceback" not in result.text and result.out == ""


def test_creds_secret_in_another_namespace_is_pointed_at(bed, capsys):
    with bed.namespace("observability") as elsewhere:
        bed.apply([secret("grafana", {"admin-user": "admin", "admin-password": "x"})], namespace=elsewhere)
        wrong = run_cli(capsys, "creds", "grafana")
        assert wrong.code == 1
        assert "secret grafana not found in namespace monitoring" in wrong.err
        assert f"a secret grafana exists in namespace {elsewhere}; pass --namespace {elsewhere}" in wrong.err
        right = run_cli(capsys, "creds", "grafana", "--namespace", elsewhere, "--json")
        assert right.code == 0 and json.loads(right.out)["namespace"] == elsewhere


def test_creds_namespace_that_does_not_exist(bed, capsys):
    result = run_cli(capsys, "creds", "kubeflow", "--namespace", "no-such-namespace")
    assert result.code == 1
    assert (
        "secret dex-passwords not found in namespace no-such-namespace (namespace no-such-namespace does not exist)"
    ) in result.err


def test_creds_missing_key_is_named(bed, capsys):
    bed.apply([secret("grafana", {"admin-user": "admin"})], namespace="monitoring")
    try:
        result = run_cli(capsys, "creds", "grafana")
        assert result.code == 1
        assert "secret grafana in namespace monitoring has no key 'admin-password' (it has: admin-user)" in result.err
    finally:
        delete(bed, "secret", "grafana", "monitoring")


def test_creds_unknown_target_is_a_usage_error(capsys):
    result = run_cli(capsys, "creds", "prometheus")
    assert result.code == 2 and f"choose one of: {', '.join(components.creds_targets())}" in result.err


# ------------------------------------------------------------------------------------------ status


@pytest.fixture
def platform(bed):
    """Some components ready, some not ready, some missing; metallb switched off."""
    objects = {
        "kubeflow": [
            deployment("centraldashboard", "ghcr.io/kubeflow/kubeflow/central-dashboard:v1.10.0"),
            deployment("model-registry-deployment", "ghcr.io/kubeflow/model-registry/server:v0.3.7"),
            deployment("model-registry-db", "mysql:8.3", ready=False),
            deployment("seaweedfs", "chrislusf/seaweedfs:4.00"),
            service("seaweedfs", 9000),
        ],
        "auth": [deployment("dex", "ghcr.io/dexidp/dex:v2.45.0", ready=False)],
        "monitoring": [
            deployment(
                "grafana",
                "docker.io/grafana/grafana:12.3.1",
                labels={"app.kubernetes.io/instance": "grafana", "helm.sh/chart": "grafana-10.5.15"},
            ),
            service("grafana", 80),
        ],
    }
    for namespace, items in objects.items():
        bed.apply(items, namespace=namespace)
    for name in ("centraldashboard", "model-registry-deployment", "seaweedfs"):
        bed.kubectl("wait", "-n", "kubeflow", "--for=condition=Available", "--timeout=60s", f"deployment/{name}")
    bed.kubectl("wait", "-n", "monitoring", "--for=condition=Available", "--timeout=60s", "deployment/grafana")
    yield bed
    for namespace, items in objects.items():
        for item in items:
            delete(bed, item["kind"].lower(), item["metadata"]["name"], namespace)


def test_status_json_with_components_missing_and_not_ready(platform, monkeypatch, capsys):
    monkeypatch.setenv("KFBOOTSTRAP_COMPONENTS__METALLB", "false")
    (port,) = free_ports(1)
    started = run_cli(capsys, "expose", "grafana", "--port", port, "--background")
    assert started.code == 0, started.text

    def grafana_forward_running():
        body = json.loads(run_cli(capsys, "status", "--json").out)
        grafana = next(c for c in body["components"] if c["name"] == "grafana")
        return body if grafana["forward"]["state"] == "running" else None

    body = wait_until(grafana_forward_running, 20, what="status to see the grafana forward")
    assert body["context"] == platform.context
    by_name = {c["name"]: c for c in body["components"]}
    assert list(by_name) == components.names()

    kubeflow = by_name["kubeflow"]
    assert (kubeflow["state"], kubeflow["workloads"]["ready"], kubeflow["workloads"]["total"]) == ("not ready", 1, 2)
    assert kubeflow["workloads"]["not_ready"] == ["auth/deployment/dex (0/1)"]
    assert (kubeflow["version"], kubeflow["version_from"]) == ("v1.10.0", "kubeflow/deployment/centraldashboard")
    assert kubeflow["forward"]["state"] == "none" and kubeflow["url"] is None

    grafana = by_name["grafana"]
    assert (grafana["state"], grafana["version"], grafana["chart"]) == ("ready", "12.3.1", "grafana-10.5.15")
    assert grafana["workloads"] == {"ready": 1, "total": 1, "not_ready": []}
    assert grafana["forward"]["port"] == port and grafana["url"] == f"http://127.0.0.1:{port}/"

    registry = by_name["model_registry"]
    assert (registry["state"], registry["version"]) == ("not ready", "v0.3.7")
    assert registry["workloads"]["not_ready"] == ["kubeflow/deployment/model-registry-db (0/1)"]

    assert (by_name["object_store"]["state"], by_name["object_store"]["version"]) == ("ready", "4.00")
    for missing in ("prometheus", "kserve"):
        assert by_name[missing]["state"] == "missing" and by_name[missing]["version"] is None
        assert by_name[missing]["workloads"]["total"] == 0
    assert (by_name["metallb"]["enabled"], by_name["metallb"]["state"]) == (False, "missing")
    assert by_name["prometheus"]["enabled"] is True

    # Why they are not ready, grouped by cause as `up` says it: both wait for a node label no node has.
    cause = "not scheduled: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    (grouped,) = body["not_ready"]["causes"]
    assert grouped["cause"] == cause and "node selector" in grouped["hint"]
    assert grouped["workloads"] == ["auth/deployment/dex", "kubeflow/deployment/model-registry-db"]
    assert [w["reason"] for w in body["not_ready"]["workloads"]] == ["Pending", "Pending"]

    table = run_cli(capsys, "status")
    assert table.code == 0
    assert "disabled" in table.out
    flat = " ".join(table.out.split())
    assert f"2 workloads: {cause} auth/dex, kubeflow/model-registry-db" in flat, table.out
    assert "hint: no node matches their node selector or affinity" in flat
    assert f"  grafana: http://127.0.0.1:{port}/" in table.out


def test_status_when_the_cluster_does_not_answer(monkeypatch, tmp_path, capsys):
    kubeconfig = tmp_path / "kubeconfig"
    (dead_port,) = free_ports(1)
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{dead_port}"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "users": [{"name": "u", "user": {}}],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", "gone")
    result = run_cli(capsys, "status", "--json")
    assert result.code == 1
    assert f"(kube context gone): cannot reach the API server at http://127.0.0.1:{dead_port}" in result.err
    assert "Traceback" not in result.text


# ------------------------------------------------------------------------------------------ end of `up`


def test_up_step_starts_forwards_and_summary_hides_passwords(platform, monkeypatch, capsys):
    from kfbootstrap.access.summary import print_summary
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.steps.forwards import ForwardsStep

    ports = free_ports(2)
    monkeypatch.setenv("KFBOOTSTRAP_FORWARDS__PORTS__GRAFANA", str(ports[0]))
    monkeypatch.setenv("KFBOOTSTRAP_FORWARDS__PORTS__MINIO", str(ports[1]))
    for name in set(components.names()) - {"grafana", "object_store"}:
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{name.upper()}", "false")
    platform.apply(
        [secret("grafana", {"admin-user": "admin", "admin-password": "summary-secret"})], namespace="monitoring"
    )
    platform.apply(
        [secret("mlpipeline-minio-artifact", {"accesskey": "minio", "secretkey": "minio123"})], namespace="kubeflow"
    )
    config = load_config().config
    ctx = RunContext(config=config, runner=None)  # type: ignore[arg-type] - the step runs no commands
    step = ForwardsStep()
    assert not step.is_done(ctx)
    assert step.run(ctx) == "2 running"
    assert step.is_done(ctx)
    assert {r.spec.target for r in forwards.read_records()} == {"grafana", "minio"}

    capsys.readouterr()
    print_summary(config)
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{ports[0]}/" in out and "kfbootstrap creds grafana" in out
    assert "summary-secret" not in out and "minio123" not in out
    print_summary(config, show_credentials=True)
    out = capsys.readouterr().out
    assert "admin / summary-secret" in out and "minio / minio123" in out

    # A port someone else holds: a warning and a note, not a failed `up`.
    forwards.stop_all()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[0]))
        holder.listen(1)
        note = ForwardsStep().run(ctx)
    assert note == "1 running; not started: grafana"
    assert "forward for grafana not started: port" in capsys.readouterr().err


def test_down_stops_background_forwards_of_its_cluster_only(platform, monkeypatch, capsys):
    from tests.fakes import FakeRunner

    (port,) = free_ports(1)
    assert run_cli(capsys, "expose", "grafana", "--port", port, "--background").code == 0
    (record,) = forwards.read_records()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: FakeRunner().on("kind", "get", "clusters"))
    monkeypatch.delenv("KFBOOTSTRAP_CLUSTER__CONTEXT")  # plain `down` is about our own Kind cluster, kind-kubeflow
    other = run_cli(capsys, "down")
    assert other.code == 0, other.text
    assert forwards.process_alive(record.pid), "down of kind-kubeflow stopped the testbed cluster's forward"
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", record.spec.context)
    result = run_cli(capsys, "down", "--keep-cluster")
    assert result.code == 0, result.text
    assert "Stop port-forwards (grafana)" in result.err
    assert forwards.read_records() == [] and not forwards.process_alive(record.pid)


def test_expose_all_in_the_background_then_stop_all(platform, monkeypatch, capsys):
    ports = free_ports(2)
    monkeypatch.setenv("KFBOOTSTRAP_FORWARDS__PORTS__GRAFANA", str(ports[0]))
    monkeypatch.setenv("KFBOOTSTRAP_FORWARDS__PORTS__MINIO", str(ports[1]))
    for name in ("kubeflow", "prometheus", "model_registry"):
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{name.upper()}", "false")
    started = run_cli(capsys, "expose", "--all", "--background", "--json")
    assert started.code == 0, started.text
    assert [(r["target"], r["url"]) for r in json.loads(started.out)] == [
        ("grafana", f"http://127.0.0.1:{ports[0]}/"),
        ("minio", f"http://127.0.0.1:{ports[1]}/"),
    ]
    records = forwards.read_records()
    assert {r.spec.target: r.spec.services for r in records} == {
        "grafana": ["grafana"],
        "minio": ["seaweedfs", "minio-service"],
    }
    stopped = run_cli(capsys, "expose", "--stop", "--all")
    assert stopped.code == 0 and "stopped 2 forwards: grafana, minio" in stopped.err
    assert forwards.read_records() == [] and not any(forwards.process_alive(r.pid) for r in records)
