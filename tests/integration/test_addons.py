"""The add-ons on a real control plane: Helm releases, MetalLB's pool, the model registry,
the object store record, stuck releases and the readiness wait.

Only docker is faked (there is no Docker here): the runner answers
`docker network inspect kind` with a canned subnet. Helm is the testbed's pinned
binary, and every Helm test runs twice: with helm v3 and with helm v4. The charts are the upstream archives in ../shared/fixtures/charts, and the
model registry is the pre-rendered 26.03 overlays. The testbed has no webhook
servers, so MetalLB's validating webhook is set to `Ignore` through the test's own
values file (charts.metallb.values), never in the product.
"""

from __future__ import annotations

import base64
import json
import lzma
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from kfbootstrap.tools.runner import Result, ShRunner
from tests.testbed.cluster import Testbed, helm_binaries, wait_until
from tests.cli_helpers import run_cli
from tests.shared_fixtures import fixture_path

KIND_SUBNETS = [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}, {"Subnet": "fc00:f853:ccd:e793::/64"}]
ISTIO_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "authorizationpolicies.security.istio.io",
)


class DockerFakingRunner(ShRunner):
    """The real runner for everything but docker, which answers like a host where kind made its network."""

    def __init__(self) -> None:
        self.docker_calls: list[list[str]] = []

    def which(self, program: str) -> str | None:
        return "/usr/bin/docker" if program == "docker" else super().which(program)

    def run(self, argv, **kwargs):
        argv = [str(a) for a in argv]
        if argv[0] != "docker":
            return super().run(argv, **kwargs)
        self.docker_calls.append(argv)
        if argv[1:4] == ["network", "inspect", "kind"]:
            return Result(tuple(argv), 0, json.dumps(KIND_SUBNETS), "")
        return Result(tuple(argv), 1, "", "Cannot connect to the Docker daemon")


def use_testbed_kubeconfig(testbed, monkeypatch) -> None:
    """KUBECONFIG for kubectl and helm, and for the kubernetes client, which reads it once at import."""
    for key in ("KUBECONFIG", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "KUBECACHEDIR"):
        monkeypatch.setenv(key, testbed.env[key])
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", testbed.kubeconfig)


@pytest.fixture(params=["helm3", "helm4"])
def helm(request, testbed) -> Path:
    """The helm binary a test drives (kfbootstrap's charts.helm and the test's own calls)."""
    return helm_binaries(testbed.bin_dir)[request.param]


@pytest.fixture
def own_bed(testbed):
    """A cluster of its own: `up` installs cluster-wide add-ons (CRDs, ClusterRoles) once per helm."""
    with Testbed(testbed.bin_dir, testbed.stage_dir) as bed:
        yield bed


@pytest.fixture
def cli_env(own_bed, monkeypatch):
    """The CLI in-process against its own testbed: its kubeconfig, private helm dirs, faked docker."""
    use_testbed_kubeconfig(own_bed, monkeypatch)
    runner = DockerFakingRunner()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    return runner


def write_config(tmp_path: Path, helm: Path, **extra) -> Path:
    metallb_values = tmp_path / "metallb-testbed-values.yaml"
    metallb_values.write_text("crds:\n  validationFailurePolicy: Ignore  # no webhook servers on the testbed\n")
    config = {
        "components": {"kubeflow": False, "kserve": False},
        "kubeflow": {"version": "26.03"},  # its model registry is applied beyond example (26.03.1's is in it)
        "charts": {
            "helm": str(helm),
            "local_dir": str(fixture_path("charts")),
            "grafana": {"version": "10.5.15"},
            "metallb": {"values": str(metallb_values)},
        },
        "model_registry": {"path": str(fixture_path("kubeflow-26.03"))},
        "forwards": {"auto": False},
        "timeouts": {"apply": 180, "ready": 180},
        **extra,
    }
    path = tmp_path / "kfbootstrap.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def istio_crds() -> list[dict]:
    """The three Istio CRDs the model registry's options/istio needs, cut from the 26.03 render."""
    text = lzma.decompress(fixture_path("kubeflow-26.03", "example.yaml.xz").read_bytes()).decode()
    wanted = []
    for doc in text.split("\n---\n"):
        if "kind: CustomResourceDefinition" in doc and any(
            re.search(rf"^  name: {re.escape(name)}$", doc, re.M) for name in ISTIO_CRDS
        ):
            wanted.append(yaml.load(doc, Loader=yaml.CSafeLoader))
    assert len(wanted) == 3
    return wanted


def releases(testbed, helm: Path) -> dict[str, dict]:
    listed = json.loads(testbed.helm("list", "-A", "-o", "json", binary=helm).stdout)  # helm 4 has no -a
    return {r["name"]: r for r in listed if r["name"] in ("prometheus", "grafana", "metallb")}


def get(testbed, *args: str) -> dict:
    return json.loads(testbed.kubectl("get", *args, "-o", "json").stdout)


def test_up_installs_the_addons_and_a_second_run_changes_nothing(own_bed, helm, cli_env, tmp_path, capsys):
    testbed = own_bed
    config = write_config(tmp_path, helm)
    testbed.apply(istio_crds())
    for crd in ISTIO_CRDS:  # `kubectl wait` trips over a CRD whose status is not written yet
        wait_until(
            lambda crd=crd: testbed.kubectl("get", crd, "-A", check=False).returncode == 0, 60, what=f"{crd} served"
        )
    # What Kubeflow 26.03 brings for pipelines: a seaweedfs Service (the object store step records it).
    testbed.kubectl("create", "namespace", "kubeflow", check=False)
    testbed.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "seaweedfs", "namespace": "kubeflow"},
                "spec": {
                    "selector": {"app": "seaweedfs"},
                    "ports": [{"name": "http-s3-compat", "port": 9000, "targetPort": 8333}],
                },
            }
        ]
    )

    started = time.monotonic()
    first = run_cli(capsys, "up", "--context", testbed.context, "--config", str(config))
    first_seconds = time.monotonic() - started
    assert first.code == 0, first.text
    for title in (
        "Install MetalLB",
        "Install Prometheus",
        "Install Grafana",
        "Install the model registry",
        "Find the pipelines' object store",
        "Wait until every workload is ready",
    ):
        assert title in first.err
    assert "installed (revision 1)" in first.err

    installed = releases(testbed, helm)
    assert {name: (r["status"], r["chart"], r["revision"]) for name, r in installed.items()} == {
        "prometheus": ("deployed", "prometheus-29.27.0", "1"),
        "grafana": ("deployed", "grafana-10.5.15", "1"),
        "metallb": ("deployed", "metallb-0.16.1", "1"),
    }
    # MetalLB's pool: the high end of the (faked) kind network, never its gateway.
    assert ["docker", "network", "inspect", "kind"] == cli_env.docker_calls[0][:4]
    pool = get(testbed, "ipaddresspools.metallb.io", "kfbootstrap-pool", "-n", "metallb-system")
    assert pool["spec"]["addresses"] == ["172.18.255.200-172.18.255.250"]
    advert = get(testbed, "l2advertisements.metallb.io", "kfbootstrap-l2", "-n", "metallb-system")
    assert advert["spec"]["ipAddressPools"] == ["kfbootstrap-pool"]

    # Grafana: generated admin password in its own secret, never in values or output.
    secret = get(testbed, "secret", "grafana", "-n", "monitoring")
    password = base64.b64decode(secret["data"]["admin-password"]).decode()
    assert len(password) >= 20
    values = json.loads(testbed.helm("get", "values", "grafana", "-n", "monitoring", "-o", "json", binary=helm).stdout)
    assert values["admin"]["existingSecret"] == "grafana"
    assert values["persistence"] == {"enabled": True, "size": "10Gi"}
    assert values["datasources"]["datasources.yaml"]["datasources"][0]["url"].startswith("http://prometheus-server.")
    assert password not in first.text and password not in json.dumps(values)
    dashboards = get(testbed, "configmap", "grafana-dashboards-kfbootstrap", "-n", "monitoring")
    assert json.loads(dashboards["data"]["kubeflow-platform.json"])["title"] == "Kubeflow platform (kfbootstrap)"

    # The model registry, with options/istio since the Istio CRDs are there.
    for name in ("model-registry-deployment", "model-registry-db"):
        deployment = get(testbed, "deployment", name, "-n", "kubeflow")
        assert deployment["status"].get("readyReplicas") == 1
    assert get(testbed, "virtualservices.networking.istio.io", "model-registry", "-n", "kubeflow")
    marker = json.loads(get(testbed, "configmap", "kfbootstrap-state", "-n", "kube-system")["data"]["model_registry"])
    assert (marker["objects"], marker["namespaces"]) == (9 + 3, ["kubeflow"])  # overlays/db + options/istio
    assert "db, istio:" in first.err

    store = get(testbed, "configmap", "kfbootstrap-object-store", "-n", "kubeflow")["data"]
    assert (store["kind"], store["service"], store["port"], store["secret"]) == (
        "seaweedfs",
        "seaweedfs",
        "9000",
        "mlpipeline-minio-artifact",
    )

    started = time.monotonic()
    second = run_cli(capsys, "up", "--context", testbed.context, "--config", str(config))
    second_seconds = time.monotonic() - started
    assert second.code == 0, second.text
    assert {name: r["revision"] for name, r in releases(testbed, helm).items()} == {
        "prometheus": "1",
        "grafana": "1",
        "metallb": "1",
    }
    for title in (
        "Install MetalLB",
        "Install Prometheus",
        "Install Grafana",
        "Install the model registry",
        "Find the pipelines' object store",
        "Wait until every workload is ready",
    ):
        assert re.search(rf"{re.escape(title)}.*\(already done\)", second.err), second.err
    print(f"\nup ({helm.name}): first run {first_seconds:.1f}s, second run {second_seconds:.1f}s")


def _start_stuck_helm(testbed, helm: Path, args: list[str]) -> subprocess.Popen:
    """A helm that waits for a pod that can never be scheduled, as an interrupted run left it."""
    return subprocess.Popen(
        [
            str(helm),
            "--kube-context",
            testbed.context,
            *args,
            "--wait",
            "--timeout",
            "10m",
            "--set",
            "nodeSelector.kfbootstrap-test=nowhere",
        ],
        env=testbed.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _status(testbed, helm: Path, release: str, namespace: str) -> dict:
    return json.loads(testbed.helm("status", release, "-n", namespace, "-o", "json", binary=helm).stdout)


def _kill_when(testbed, helm: Path, proc: subprocess.Popen, release: str, namespace: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = testbed.helm("status", release, "-n", namespace, "-o", "json", check=False, binary=helm)
        if result.returncode == 0 and json.loads(result.stdout)["info"]["status"] == status:
            proc.kill()  # SIGKILL: helm gets no chance to record a failure, like a closed laptop lid
            proc.wait()
            return
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"release {release} never reached {status}")


@pytest.mark.parametrize("stuck", ["pending-install", "pending-upgrade"])
def test_a_release_left_pending_by_an_interrupted_run_is_recovered(testbed, helm, namespace, stuck, request):
    from kfbootstrap.charts import CHART_PINS, chart_source, chart_values
    from kfbootstrap.config import load_config
    from kfbootstrap.tools.helm import Helm

    config = load_config(
        None, {"charts.local_dir": str(fixture_path("charts")), "charts.grafana.version": "10.5.15"}, env={}
    ).config
    pin = CHART_PINS["grafana"]
    source, values = chart_source(pin, config.charts), chart_values(pin, config.charts)
    values["admin"] = {}  # no generated secret in this namespace; the chart makes its own
    chart = str(fixture_path("charts", "grafana-10.5.15.tgz"))
    release = f"stuck-{stuck.split('-')[1]}"  # unique: the chart's ClusterRole is named after the release
    helm_bin = helm
    request.addfinalizer(lambda: testbed.helm("uninstall", release, "-n", namespace, check=False, binary=helm_bin))
    if stuck == "pending-upgrade":
        testbed.helm("install", release, chart, "-n", namespace, binary=helm_bin)
        proc = _start_stuck_helm(testbed, helm_bin, ["upgrade", release, chart, "-n", namespace])
    else:
        proc = _start_stuck_helm(testbed, helm_bin, ["install", release, chart, "-n", namespace])
    _kill_when(testbed, helm_bin, proc, release, namespace, stuck)

    helm = Helm(ShRunner(), str(helm_bin), context=testbed.context, kubeconfig=testbed.kubeconfig)
    assert helm.state(release, namespace).status == stuck
    # What `diagnose` collects: every state, pending included, on helm 3 and 4 alike.
    assert {(r["namespace"], r["name"]): r["status"] for r in helm.list_all()}[(namespace, release)] == stuck
    assert not helm.is_current(release, namespace, source, pin.chart, values)
    notes: list[str] = []
    result = helm.ensure(release, namespace, source, pin.chart, values, on_note=notes.append)

    assert len(notes) == 1 and f"stuck in {stuck}" in notes[0] and "interrupted run" in notes[0]
    assert result.recovered == notes[0]
    assert ("uninstalled" if stuck == "pending-install" else "rolled back") in notes[0]
    status = _status(testbed, helm_bin, release, namespace)
    assert status["info"]["status"] == "deployed"
    # install: the stuck revision was uninstalled, so this is a fresh revision 1;
    # upgrade: 1 deployed, 2 stuck, 3 the rollback, 4 our upgrade.
    assert (result.action, result.revision, status["version"]) == (
        ("installed", 1, 1) if stuck == "pending-install" else ("upgraded", 4, 4)
    )
    assert helm.is_current(release, namespace, source, pin.chart, values)
    again = helm.ensure(release, namespace, source, pin.chart, values, on_note=notes.append)
    assert (again.action, again.revision, len(notes)) == ("unchanged", result.revision, 1)


def test_wait_times_out_with_a_table_naming_what_is_not_ready_and_why(testbed, namespace, capsys, monkeypatch):
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.components import Scope
    from kfbootstrap.steps.wait import WorkloadsNotReady, wait_or_explain

    def deployment(name: str, **pod_spec) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}], **pod_spec},
                },
            },
        }

    testbed.apply([deployment("healthy"), deployment("unschedulable", nodeSelector={"disk": "ssd-nowhere"})])
    config = load_config(None, {"cluster.context": testbed.context, "timeouts.ready": 8}, env={}).config
    use_testbed_kubeconfig(testbed, monkeypatch)
    ctx = RunContext(config=config, runner=ShRunner())
    started = time.monotonic()
    with pytest.raises(WorkloadsNotReady) as raised:
        wait_or_explain(ctx, [Scope(namespace)], what="the test")
    elapsed = time.monotonic() - started
    table = capsys.readouterr().err
    assert 8 <= elapsed < 30
    assert "1 of 2 workloads of the test not ready after 8s" in raised.value.message
    assert f"{namespace}/unschedulable (Pending)" in raised.value.message
    rows = [line for line in table.splitlines() if "deployment/unschedulable" in line]
    assert len(rows) == 1 and namespace in rows[0] and "Pending" in rows[0] and "0/1" in rows[0], table
    assert "didn't match Pod's node affinity/selector" in " ".join(table.split()), table
    assert "healthy" not in table


def test_grafana_keeps_the_password_of_a_release_installed_without_our_values(
    testbed, helm, namespace, tmp_path, monkeypatch, capsys
):
    """A Makefile-era `helm install grafana` owns Secret grafana; our upgrade must not lose its password."""
    import dataclasses

    from kfbootstrap.context import RunContext
    from kfbootstrap.config import load_config
    from kfbootstrap.steps.monitoring import GrafanaStep

    use_testbed_kubeconfig(testbed, monkeypatch)
    chart = str(fixture_path("charts", "grafana-10.5.15.tgz"))
    # rbac off: the ClusterRole is cluster-wide and named after the release, which another test also uses.
    testbed.helm("install", "grafana", chart, "-n", namespace, "--set", "rbac.create=false", binary=helm)
    before = get(testbed, "secret", "grafana", "-n", namespace)
    assert "meta.helm.sh/release-name" in before["metadata"]["annotations"]

    overlay = tmp_path / "no-rbac.yaml"
    overlay.write_text("rbac:\n  create: false\n")
    config = load_config(
        None,
        {
            "cluster.context": testbed.context,
            "charts.helm": str(helm),
            "charts.local_dir": str(fixture_path("charts")),
            "charts.grafana.version": "10.5.15",
            "charts.grafana.values": str(overlay),
        },
        env={},
    ).config
    step = GrafanaStep()
    step.pin = dataclasses.replace(step.pin, namespace=namespace)
    ctx = RunContext(config=config, runner=ShRunner())
    assert not step.is_done(ctx)
    note = step.run(ctx)

    assert "upgraded (revision 2)" in note and "kept the admin password" in note
    after = get(testbed, "secret", "grafana", "-n", namespace)
    assert after["data"]["admin-password"] == before["data"]["admin-password"]
    assert "meta.helm.sh/release-name" not in (after["metadata"].get("annotations") or {})
    values = json.loads(testbed.helm("get", "values", "grafana", "-n", namespace, "-o", "json", binary=helm).stdout)
    assert values["admin"]["existingSecret"] == "grafana"
    assert step.is_done(ctx)
    password = base64.b64decode(after["data"]["admin-password"]).decode()
    assert password not in capsys.readouterr().err and password not in note


def test_grafana_takes_the_admin_password_the_user_supplies(testbed, namespace, tmp_path, monkeypatch, capsys):
    """charts.grafana.admin_password names a variable: the Secret (what creds shows) gets its value, never Helm's
    values; a later change is not silently ignored (Grafana keeps the password its database was made with)."""
    import dataclasses

    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.steps.monitoring import GrafanaStep

    use_testbed_kubeconfig(testbed, monkeypatch)
    supplied = "grafana-" + base64.b32encode(__import__("os").urandom(10)).decode().lower()
    monkeypatch.setenv("MY_GRAFANA_PW", supplied)
    overlay = tmp_path / "no-rbac.yaml"
    overlay.write_text("rbac:\n  create: false\n")
    config = load_config(
        None,
        {
            "cluster.context": testbed.context,
            "charts.helm": str(testbed.bin_dir / "helm"),
            "charts.local_dir": str(fixture_path("charts")),
            "charts.grafana.version": "10.5.15",
            "charts.grafana.values": str(overlay),
            "charts.grafana.admin_password": "MY_GRAFANA_PW",
        },
        env={},
    ).config
    step = GrafanaStep()
    step.pin = dataclasses.replace(step.pin, namespace=namespace)
    ctx = RunContext(config=config, runner=ShRunner())
    note = step.run(ctx)
    assert "installed (revision 1)" in note
    secret = get(testbed, "secret", "grafana", "-n", namespace)
    assert base64.b64decode(secret["data"]["admin-password"]).decode() == supplied
    values = testbed.helm("get", "values", "grafana", "-n", namespace, "-o", "json").stdout
    assert supplied not in values and supplied not in note and supplied not in capsys.readouterr().err

    monkeypatch.setenv("MY_GRAFANA_PW", supplied + "-changed")
    again = GrafanaStep()
    again.pin = step.pin
    again.run(ctx)
    err = capsys.readouterr().err
    assert "Grafana keeps the admin password it was installed with, not $MY_GRAFANA_PW's" in err
    assert (
        base64.b64decode(get(testbed, "secret", "grafana", "-n", namespace)["data"]["admin-password"]).decode()
        == supplied
    )


def test_diagnose_lists_every_release_with_the_configured_helm(testbed, helm, namespace, monkeypatch, capsys, tmp_path):
    """charts.helm is what diagnose runs, for its version and for the releases (helm 4 has no `list --all`)."""
    import tarfile

    chart = str(fixture_path("charts", "grafana-10.5.15.tgz"))
    release = f"diag-{helm.name.replace('.', '-')}"  # the ClusterRole is named after the release: unique per helm
    testbed.helm("install", release, chart, "-n", namespace, binary=helm)
    testbed.helm("uninstall", release, "-n", namespace, "--keep-history", binary=helm)  # listed by neither default
    use_testbed_kubeconfig(testbed, monkeypatch)
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", testbed.context)
    monkeypatch.setenv("KFBOOTSTRAP_CHARTS__HELM", str(helm))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no other helm to fall back on

    result = run_cli(capsys, "diagnose", "--out", str(tmp_path), "--json")
    assert result.code == 0, result.text
    with tarfile.open(json.loads(result.out)["bundle"]) as archive:
        files = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if m.isfile()}
        listed = json.loads(archive.extractfile(files["helm-releases.json"]).read())
        versions = yaml.safe_load(archive.extractfile(files["versions.yaml"]).read())
    assert {(r["namespace"], r["name"]): r["status"] for r in listed}[(namespace, release)] == "uninstalled"
    expected = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True).stdout.strip()
    assert versions["helm"] == expected and expected.startswith("v4." if helm.name != "helm" else "v3.")
