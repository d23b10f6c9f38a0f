"""Pure logic of the add-ons: chart sources and values, MetalLB's pool, readiness reading and
explaining, the object store's classification, Helm comparisons, and the plan."""

from __future__ import annotations

import io
import ipaddress
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from kfbootstrap.charts import CHART_PINS, chart_source, chart_values, local_chart_version, merge_values
from kfbootstrap import components
from kfbootstrap.components import Scope, scopes_for
from kfbootstrap.config import Config, load_config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.kube.object_store import ObjectStore, classify
from kfbootstrap.kube.readiness import label_selector, per_namespace, pod_problem, workload_from
from kfbootstrap.kube.waits import ready_endpoints
from kfbootstrap.steps.metallb import choose_pool, pool_from_subnet
from kfbootstrap.tools.helm import ReleaseState, _matches
from tests.cli_helpers import run_cli
from tests.fakes import FakeHost, FakeRunner


def config(**flags) -> Config:
    return load_config(None, {k.replace("__", "."): v for k, v in flags.items()}, env={}).config


def chart_archive(directory: Path, name: str, version: str) -> Path:
    """A minimal `helm package`-shaped archive: <name>/Chart.yaml inside <name>-<version>.tgz."""
    path = directory / f"{name}-{version}.tgz"
    data = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


# ---------------------------------------------------------------- charts


def test_charts_come_from_their_repository_by_default():
    source = chart_source(CHART_PINS["grafana"], config().charts)
    assert (source.ref, source.repo, source.version, source.local) == (
        "grafana",
        "https://grafana-community.github.io/helm-charts",
        "12.11.1",
        False,
    )


def test_local_dir_finds_the_pinned_archive(tmp_path):
    archive = chart_archive(tmp_path, "prometheus", "29.27.0")
    source = chart_source(CHART_PINS["prometheus"], config(charts__local_dir=str(tmp_path)).charts)
    assert (source.ref, source.repo, source.version, source.local) == (str(archive), None, "29.27.0", True)


def test_local_dir_without_the_pinned_version_names_what_it_has(tmp_path):
    chart_archive(tmp_path, "grafana", "10.5.15")
    with pytest.raises(ConfigError) as raised:
        chart_source(CHART_PINS["grafana"], config(charts__local_dir=str(tmp_path)).charts)
    assert "no grafana chart at version 12.11.1 (found: grafana-10.5.15.tgz)" in raised.value.message
    assert "charts.grafana.version" in raised.value.hint
    source = chart_source(
        CHART_PINS["grafana"], config(charts__local_dir=str(tmp_path), charts__grafana__version="10.5.15").charts
    )
    assert source.version == "10.5.15" and source.ref.endswith("grafana-10.5.15.tgz")


def test_a_chart_path_brings_its_own_version_and_must_agree_with_a_configured_one(tmp_path):
    archive = chart_archive(tmp_path, "metallb", "0.15.2")
    source = chart_source(CHART_PINS["metallb"], config(charts__metallb__path=str(archive)).charts)
    assert (source.ref, source.version) == (str(archive), "0.15.2")
    with pytest.raises(ConfigError, match="holds metallb 0.15.2, not charts.metallb.version 0.16.1"):
        chart_source(
            CHART_PINS["metallb"], config(charts__metallb__path=str(archive), charts__metallb__version="0.16.1").charts
        )


def test_a_chart_directory_is_read_too(tmp_path):
    (tmp_path / "grafana").mkdir()
    (tmp_path / "grafana" / "Chart.yaml").write_text("name: grafana\nversion: 12.11.1\n")
    assert local_chart_version(tmp_path / "grafana") == "12.11.1"
    (tmp_path / "broken.tgz").write_bytes(b"not a tarball")
    with pytest.raises(KfbError, match="is not a Helm chart"):
        local_chart_version(tmp_path / "broken.tgz")


def test_our_values_hold_what_the_makefile_had_and_no_password():
    grafana = chart_values(CHART_PINS["grafana"], config().charts)
    assert grafana["persistence"] == {"enabled": True, "size": "10Gi"}
    assert grafana["admin"]["existingSecret"] == "grafana"
    assert "adminPassword" not in grafana
    source = grafana["datasources"]["datasources.yaml"]["datasources"][0]
    assert (source["type"], source["isDefault"]) == ("prometheus", True)
    dashboard = json.loads(grafana["dashboards"]["kfbootstrap"]["kubeflow-platform"]["json"])
    assert dashboard["panels"] and all(p["datasource"]["uid"] == source["uid"] for p in dashboard["panels"])
    assert chart_values(CHART_PINS["metallb"], config().charts)["frrk8s"] == {"enabled": False}
    assert chart_values(CHART_PINS["prometheus"], config().charts)["alertmanager"] == {"enabled": False}


def test_a_values_file_is_merged_over_ours_like_helm_does(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("persistence:\n  size: 20Gi\ndatasources: null\nextra: [1]\n")
    values = chart_values(CHART_PINS["grafana"], config(charts__grafana__values=str(overlay)).charts)
    assert values["persistence"] == {"enabled": True, "size": "20Gi"}
    assert values["datasources"] is None and values["extra"] == [1]
    base = {"a": {"b": [1, 2], "c": 1}}
    assert merge_values(base, {"a": {"b": [3]}}) == {"a": {"b": [3], "c": 1}}
    assert base == {"a": {"b": [1, 2], "c": 1}}  # never mutated


# ---------------------------------------------------------------- MetalLB's pool


@pytest.mark.parametrize(
    "subnet, pool",
    [
        ("172.18.0.0/16", "172.18.255.200-172.18.255.250"),  # what the Makefile hard-coded, now derived
        ("172.19.0.0/16", "172.19.255.200-172.19.255.250"),
        ("192.168.49.0/24", "192.168.49.200-192.168.49.250"),
        ("10.89.0.0/26", "10.89.0.48-10.89.0.62"),
        ("10.0.0.0/28", "10.0.0.12-10.0.0.14"),
    ],
)
def test_the_pool_is_the_high_end_of_the_subnet(subnet, pool):
    assert pool_from_subnet(subnet) == pool
    network = ipaddress.ip_network(subnet)
    first, last = (ipaddress.ip_address(a) for a in pool.split("-"))
    assert first in network and last in network and first <= last
    assert network.network_address + 1 < first  # never the gateway docker uses
    assert last < network.broadcast_address


@pytest.mark.parametrize(
    "subnet, problem",
    [
        ("10.0.0.0/29", "too few"),
        ("fc00:f853:ccd:e793::/64", "not an IPv4 subnet"),
    ],
)
def test_no_pool_from_a_tiny_or_ipv6_subnet(subnet, problem):
    with pytest.raises(ValueError, match=problem):
        pool_from_subnet(subnet)


def _ctx(runner: FakeRunner, **flags) -> RunContext:
    return RunContext(config=config(**flags), runner=runner, host=FakeHost())


def test_the_pool_comes_from_the_kind_network():
    subnets = [{"Subnet": "fc00:f853:ccd:e793::/64"}, {"Subnet": "172.20.0.0/16", "Gateway": "172.20.0.1"}]
    runner = FakeRunner().on("docker", "network", "inspect", stdout=json.dumps(subnets))
    choice = choose_pool(_ctx(runner))
    assert choice.addresses == "172.20.255.200-172.20.255.250" and "172.20.0.0/16" in choice.why
    assert runner.commands("docker")[0][:4] == ["docker", "network", "inspect", "kind"]


def test_a_configured_pool_wins_without_asking_docker():
    runner = FakeRunner()
    choice = choose_pool(_ctx(runner, metallb__address_pool="10.1.2.100-10.1.2.120"))
    assert choice.addresses == "10.1.2.100-10.1.2.120" and runner.calls == []


@pytest.mark.parametrize(
    "runner, flags, said",
    [
        (
            FakeRunner().on("docker", "network", "inspect", stdout=json.dumps([{"Subnet": "fd00::/64"}])),
            {},
            "has no IPv4 subnet",
        ),
        (FakeRunner(missing=["docker"]), {"cluster__context": "prod"}, "not one kfbootstrap created (--context)"),
        (
            FakeRunner().on("docker", "network", "inspect", exit_code=1, stderr="Error: No such network: kind"),
            {},
            "No such network: kind",
        ),
    ],
)
def test_no_pool_is_explained(runner, flags, said):
    choice = choose_pool(_ctx(runner, **flags))
    assert choice.addresses is None and said in choice.why and "metallb.address_pool" in choice.why


def test_a_bad_configured_pool_is_a_config_error():
    with pytest.raises(ConfigError, match="metallb.address_pool"):
        config(metallb__address_pool="10.0.0.9-10.0.0.1")


# ---------------------------------------------------------------- readiness


def _deployment(replicas=1, ready=None, generation=2, observed=2, updated=None, **labels):
    status = (
        {}
        if ready is None
        else {
            "readyReplicas": ready,
            "observedGeneration": observed,
            "updatedReplicas": replicas if updated is None else updated,
        }
    )
    return {
        "metadata": {"name": "d", "namespace": "ns", "generation": generation, "labels": labels},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": "x:1"}]}}},
        "status": status,
    }


@pytest.mark.parametrize(
    "kind, obj, ready",
    [
        ("deployment", _deployment(), False),  # just created: the controller has not looked yet
        ("deployment", _deployment(ready=1), True),
        ("deployment", _deployment(ready=1, observed=1), False),  # new spec not rolled out
        ("deployment", _deployment(ready=1, updated=0), False),  # old pods still serve
        ("deployment", _deployment(replicas=0, ready=0), True),
        ("statefulset", _deployment(replicas=2, ready=1), False),
        (
            "daemonset",
            {
                "metadata": {"name": "ds", "namespace": "ns", "generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "desiredNumberScheduled": 3,
                    "numberReady": 3,
                    "updatedNumberScheduled": 3,
                },
            },
            True,
        ),
        (
            "daemonset",
            {
                "metadata": {"name": "ds", "namespace": "ns", "generation": 1},
                "status": {
                    "observedGeneration": 1,
                    "desiredNumberScheduled": 3,
                    "numberReady": 2,
                    "updatedNumberScheduled": 3,
                },
            },
            False,
        ),
    ],
)
def test_workload_readiness(kind, obj, ready):
    assert workload_from(kind, obj).is_ready is ready


def test_scopes_select_by_namespace_and_labels():
    prometheus = workload_from("deployment", _deployment(ready=1, **{"app.kubernetes.io/instance": "prometheus"}))
    other = workload_from("deployment", _deployment(ready=1))
    scope = Scope("ns", (("app.kubernetes.io/instance", "prometheus"),))
    assert scope.matches(prometheus) and not scope.matches(other) and Scope("ns").matches(other)
    assert scopes_for(["grafana", "prometheus"]) == [
        *components.get("grafana").scopes,
        *components.get("prometheus").scopes,
    ]
    assert per_namespace([prometheus, other, workload_from("deployment", _deployment())]) == {"ns": (2, 3)}


def _pod(phase="Running", statuses=(), conditions=()):
    return {
        "metadata": {"name": "p-1", "namespace": "ns"},
        "spec": {"containers": [{"name": "main", "image": "ghcr.io/x/app:v1"}]},
        "status": {"phase": phase, "containerStatuses": list(statuses), "conditions": list(conditions)},
    }


def _waiting(reason, message="", restarts=0):
    return {
        "name": "main",
        "image": "ghcr.io/x/app:v1",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def _restarted(restarts):
    """A container running again after exiting with 1: between two crashes of a crash loop."""
    return {
        "name": "main",
        "ready": False,
        "restartCount": restarts,
        "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }


@pytest.mark.parametrize(
    "pod, reason, detail",
    [
        (
            _pod(statuses=[_waiting("ImagePullBackOff", 'Back-off pulling image "ghcr.io/x/app:v1"')]),
            "ImagePullBackOff",
            "image ghcr.io/x/app:v1",
        ),
        (
            _pod(statuses=[_waiting("CrashLoopBackOff", "back-off 5m0s", restarts=7)]),
            "CrashLoopBackOff",
            "container main restarted 7 times",
        ),
        (
            _pod(
                "Pending",
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }
                ],
            ),
            "Pending",
            "0/3 nodes are available: 3 Insufficient memory.",
        ),
        (
            _pod(
                "Pending",
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node "
                        "affinity/selector. no new claims to deallocate, preemption: 0/2 "
                        "nodes are available: 2 Preemption is not helpful for scheduling.",
                    }
                ],
            ),
            "Pending",
            "p-1: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
        ),
        (
            _pod("Pending", statuses=[_waiting("CreateContainerConfigError", 'secret "db" not found')]),
            "CreateContainerConfigError",
            'secret "db" not found',
        ),
        (
            _pod(
                statuses=[{"name": "main", "ready": False, "state": {"running": {}}}],
                conditions=[{"type": "Ready", "status": "False"}],
            ),
            "NotReady",
            "container main running but not ready",
        ),
        (
            _pod(
                statuses=[_restarted(2)],
                conditions=[{"type": "Ready", "status": "False"}],
            ),
            "Restarting",
            "container main restarted 2 times (last exit code 1, Error); running again, not ready",
        ),
    ],
)
def test_why_a_pod_is_not_ready(pod, reason, detail):
    found = pod_problem(pod)
    assert found is not None and found[0] == reason and detail in found[1] and "p-1" in found[1]
    assert "preemption" not in found[1]


def test_a_ready_pod_has_no_problem():
    assert (
        pod_problem(
            _pod(
                statuses=[{"name": "main", "ready": True, "state": {"running": {}}}],
                conditions=[{"type": "Ready", "status": "True"}],
            )
        )
        is None
    )


def test_label_selector_string():
    assert (
        label_selector(
            {
                "matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["x", "y"]},
                    {"key": "gone", "operator": "DoesNotExist"},
                ],
            }
        )
        == "a=1,b=2,tier in (x,y),!gone"
    )


def test_ready_endpoints_skip_unready_and_terminating():
    slices = [
        {
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": False}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": True, "terminating": True}},
                {"addresses": ["10.0.0.3"], "conditions": {}},
            ]
        }
    ]
    assert ready_endpoints(slices) == ["10.0.0.3"]
    assert ready_endpoints([]) == []


# ---------------------------------------------------------------- object store


def _service(selector: dict, ports=(9000,)) -> dict:
    return {"spec": {"selector": selector, "ports": [{"port": p} for p in ports]}}


@pytest.mark.parametrize(
    "services, expected",
    [
        ({"seaweedfs": _service({"app": "seaweedfs"}, (8333, 9000))}, ("seaweedfs", "seaweedfs", 9000)),  # 26.03
        (
            {"minio-service": _service({"app": "seaweedfs"}), "seaweedfs": _service({"app": "seaweedfs"})},
            ("seaweedfs", "minio-service", 9000),
        ),  # v1.11.0
        ({"minio-service": _service({"app": "minio"})}, ("minio", "minio-service", 9000)),  # v1.10.x
        ({}, None),
    ],
)
def test_which_object_store_the_release_runs(services, expected):
    store = classify(services)
    assert (store and (store.kind, store.service, store.port)) == expected


def test_the_object_store_record_round_trips():
    store = ObjectStore("seaweedfs", "minio-service", 9000)
    assert ObjectStore.from_record(store.as_record()) == store
    assert store.describe() == "seaweedfs behind svc/minio-service:9000 (credentials: secret mlpipeline-minio-artifact)"


# ---------------------------------------------------------------- helm comparisons


@pytest.mark.parametrize(
    "state, same",
    [
        (ReleaseState(3, "deployed", "grafana", "12.11.1", {"a": 1}), True),
        (ReleaseState(3, "deployed", "grafana", "12.11.0", {"a": 1}), False),
        (ReleaseState(3, "deployed", "grafana", "12.11.1", {"a": 2}), False),
        (ReleaseState(3, "failed", "grafana", "12.11.1", {"a": 1}), False),
        (ReleaseState(3, "pending-install", "grafana", "12.11.1", {"a": 1}), False),
        (ReleaseState(3, "deployed", "other", "12.11.1", {"a": 1}), False),
    ],
)
def test_a_release_is_current_only_when_deployed_with_our_chart_version_and_values(state, same):
    assert _matches(state, "grafana", "12.11.1", {"a": 1}) is same


# ---------------------------------------------------------------- the plan


def test_the_plan_has_the_addons_and_the_wait(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "up", "--dry-run")
    assert result.code == 0, result.text
    for line in (
        "Install MetalLB (metallb chart 0.16.1)",
        "Install Prometheus (prometheus chart 29.27.0)",
        "Install Grafana (grafana chart 12.11.1)",
        "Apply the model registry overlays",
        "Find the pipelines' object store",
        "Wait until the Deployments",
    ):
        assert line in result.out
    assert "not available yet" not in result.out.split("Install MetalLB")[1]


def test_switched_off_components_have_no_step():
    from kfbootstrap.pipeline import build_steps

    names = [s.name for s in build_steps(config(components__metallb=False, components__grafana=False))]
    assert "metallb" not in names and "grafana" not in names and "prometheus" in names and names.count("wait") == 1


@pytest.mark.parametrize("operating_system, warned", [("Docker Desktop", True), ("Ubuntu 24.04 LTS", False)])
def test_docker_desktop_is_told_that_loadbalancer_ips_are_unreachable(operating_system, warned, capsys):
    from kfbootstrap.steps.metallb import _desktop_notice

    info = {"ServerVersion": "28.0.1", "MemTotal": 17179869184, "NCPU": 8, "OperatingSystem": operating_system}
    _desktop_notice(_ctx(FakeRunner().on("docker", "info", stdout=json.dumps(info))))
    err = capsys.readouterr().err
    assert ("LoadBalancer IPs from MetalLB are not reachable" in err and "kfbootstrap expose" in err) is warned


# ---------------------------------------------------------------- helm 3 and helm 4


LISTED = [
    {
        "name": "grafana",
        "namespace": "monitoring",
        "revision": "2",
        "status": "pending-upgrade",
        "chart": "grafana-10.5.15",
        "app_version": "12.3.1",
        "updated": "2026-12-01 10:00:00 +0000 UTC",
    }
]


@pytest.mark.parametrize("version", ["v3.19.0", "v4.3.1"])
def test_every_release_is_listed_with_one_command_both_helms_accept(version):
    """helm 4 dropped `list --all`; naming each state works on both (pyhelm3's public list API)."""
    from kfbootstrap.tools.helm import Helm

    runner = FakeRunner().on("helm", "version", stdout=version).on("helm", "list", stdout=json.dumps(LISTED))
    assert Helm(runner, context="kind-kubeflow").list_all() == LISTED
    (argv,) = [a for a in runner.commands("helm") if a[1] == "list"]
    assert "--all" not in argv and "--all-namespaces" in argv
    assert {"--deployed", "--failed", "--pending", "--superseded", "--uninstalled", "--uninstalling"} <= set(argv)
    assert argv[-2:] == ["--kube-context", "kind-kubeflow"]


@pytest.mark.parametrize(
    "answer, exit_code, message",
    [
        ("Client: v2.17.0+ga690bad\nError: could not find tiller", 1, "helm v2.17.0 is helm 2 (Tiller)"),
        ("v5.0.0+g0000000", 0, "helm v5.0.0 is a major version kfbootstrap does not know"),
        ("a helm of our own", 0, "could not read a helm version from 'a helm of our own'"),
        ("", 127, "`helm version` failed"),
    ],
)
def test_a_helm_that_is_neither_3_nor_4_stops_with_our_error_before_any_release_command(answer, exit_code, message):
    """pyhelm3 reads the version first; helm 2 or an unknown helm must not reach a release command."""
    from kfbootstrap.errors import KfbError
    from kfbootstrap.tools.helm import Helm

    runner = FakeRunner().on("helm", "version", stdout=answer, exit_code=exit_code)
    with pytest.raises(KfbError) as caught:
        Helm(runner).list_all()
    assert message in caught.value.message
    assert "install helm v3.12+ or v4" in (caught.value.hint or "")
    assert [argv[1] for argv in runner.commands("helm")] == ["version"]


class _LogsOnly:
    """The one call _with_logs makes: a kubelet whose previous container's log file is gone."""

    def __init__(self):
        self.asked = []

    def logs(self, namespace, pod, container, previous=False, tail_lines=None):
        self.asked.append((container, previous))
        if previous:
            return "unable to retrieve container logs for containerd://5015c26c"
        return "Traceback (most recent call last):\nKeyError: 110\n"


def test_a_restarted_container_shows_the_logs_there_are_not_the_kubelets_apology():
    from kfbootstrap.kube.readiness import _with_logs

    pod = _pod(statuses=[_restarted(3)])
    kube = _LogsOnly()
    detail = _with_logs(kube, pod, "pod p-1: container main restarted 3 times")
    assert detail.endswith("last log lines:\n  Traceback (most recent call last):\n  KeyError: 110")
    assert kube.asked == [("main", True), ("main", False)]
