"""The Kind cluster step: exact kind argv, the rendered kind config, reuse and repair."""

from __future__ import annotations

import pytest
import yaml

from kfbootstrap.config import DEFAULT_NODE_IMAGE, Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import ConfigError, StepFailed
from kfbootstrap.pipeline import run_steps
from kfbootstrap.steps.cluster import ClusterStep, ExistingClusterStep, base_kind_config, render_kind_config
from kfbootstrap.tools.runner import Result
from tests.cli_helpers import run_cli
from tests.fakes import FakeHost, FakeRunner, healthy_runner


def kind_cluster_world(existing: list[str], api_ready: bool = True) -> FakeRunner:
    """A fake docker/kind/kubectl where `kind create` really adds the cluster to `kind get clusters`."""
    clusters = list(existing)
    runner = healthy_runner()
    runner.on_call("kind", "get", "clusters", handler=lambda argv: Result(tuple(argv), 0, "\n".join(clusters), ""))

    def create(argv):
        clusters.append(argv[argv.index("--name") + 1])
        return Result(tuple(argv), 0, "", "")

    def delete(argv):
        clusters.remove(argv[argv.index("--name") + 1])
        return Result(tuple(argv), 0, "", "")

    runner.on_call("kind", "create", "cluster", handler=create)
    runner.on_call("kind", "delete", "cluster", handler=delete)
    runner.on("kubectl", "--context", exit_code=0 if api_ready else 1)
    return runner


def context(runner, tmp_path, **settings) -> RunContext:
    return RunContext(config=Config.model_validate(settings), runner=runner, host=FakeHost(), state_dir=tmp_path)


def test_create_runs_exact_kind_argv_with_rendered_config(tmp_path):
    runner = kind_cluster_world([])
    ctx = context(runner, tmp_path, cluster={"name": "kf", "workers": 3})
    step = ClusterStep(ctx.config)
    assert not step.is_done(ctx)
    step.run(ctx)
    config_path = tmp_path / "clusters" / "kf" / "kind-config.yaml"
    assert runner.commands("kind")[-1] == [
        "kind",
        "create",
        "cluster",
        "--name",
        "kf",
        "--config",
        str(config_path),
        "--wait",
        "600s",
    ]
    rendered = yaml.safe_load(config_path.read_text())
    assert [n["role"] for n in rendered["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert {n["image"] for n in rendered["nodes"]} == {DEFAULT_NODE_IMAGE}
    assert "service-account-issuer" in rendered["nodes"][0]["kubeadmConfigPatches"][0]


def test_healthy_existing_cluster_is_reused(tmp_path):
    runner = kind_cluster_world(["kubeflow"])
    ctx = context(runner, tmp_path)
    assert ClusterStep(ctx.config).is_done(ctx)
    assert [
        "kubectl",
        "--context",
        "kind-kubeflow",
        "get",
        "--raw",
        "/readyz",
        "--request-timeout",
        "10s",
    ] in runner.calls
    assert not [argv for argv in runner.calls if argv[:2] == ["kind", "create"]]


def test_half_created_cluster_is_deleted_then_recreated(tmp_path, capsys):
    runner = kind_cluster_world(["kubeflow"], api_ready=False)
    ctx = context(runner, tmp_path)
    step = ClusterStep(ctx.config)
    assert not step.is_done(ctx)
    step.run(ctx)
    kind_calls = [argv[:3] for argv in runner.commands("kind") if argv[1] in ("create", "delete")]
    assert kind_calls == [["kind", "delete", "cluster"], ["kind", "create", "cluster"]]
    assert "deleting and re-creating" in capsys.readouterr().err


def test_kind_failure_is_wrapped_with_the_step_and_command(tmp_path):
    runner = kind_cluster_world([])
    runner.on("kind", "create", "cluster", exit_code=1, stderr="ERROR: failed to create cluster: node image not found")
    ctx = context(runner, tmp_path)
    with pytest.raises(StepFailed) as raised:
        run_steps([ClusterStep(ctx.config)], ctx)
    assert raised.value.message.startswith("create kind cluster kubeflow: `kind create cluster` failed (exit 1)")
    assert "node image not found" in raised.value.message


def test_render_keeps_user_worker_settings_and_sets_images():
    base = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  labels: {tier: ml}\n"
    rendered = yaml.safe_load(render_kind_config(base, 2, "img:1"))
    assert rendered["nodes"][1:] == [{"role": "worker", "labels": {"tier": "ml"}, "image": "img:1"}] * 2
    assert render_kind_config(base, 0, "img:1").count("role: worker") == 0


@pytest.mark.parametrize(
    "base, message",
    [
        ("nodes:\n- role: worker\n", "no control-plane node"),
        ("nodes: [\n", "not valid YAML"),
    ],
)
def test_render_rejects_bad_kind_configs(base, message):
    with pytest.raises(ConfigError, match=message):
        render_kind_config(base, 1, "img")


def test_packaged_kind_config_is_the_top_level_file():
    from pathlib import Path

    top_level = Path(__file__).resolve().parents[2] / "kind-config.yaml"
    assert base_kind_config(Config()) == top_level.read_text()


def test_existing_cluster_checks_context_and_never_runs_kind(tmp_path):
    runner = FakeRunner().on("kubectl", "config", "get-contexts", stdout="prod\nstaging\n")
    ctx = context(runner, tmp_path, cluster={"context": "prod"})
    assert ExistingClusterStep(ctx.config).run(ctx) == "context prod"
    assert not runner.commands("kind")


def test_existing_cluster_with_unknown_context_lists_known_ones(tmp_path):
    runner = FakeRunner().on("kubectl", "config", "get-contexts", stdout="prod\n")
    ctx = context(runner, tmp_path, cluster={"context": "nope"})
    with pytest.raises(Exception, match="kube context 'nope' not found") as raised:
        ExistingClusterStep(ctx.config).run(ctx)
    assert "known contexts: prod" in raised.value.hint


def test_down_deletes_our_cluster_with_exact_argv(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    runner = kind_cluster_world(["kubeflow", "other"])
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    result = run_cli(capsys, "down")
    assert result.code == 0, result.text
    assert ["kind", "delete", "cluster", "--name", "kubeflow"] in runner.calls
    again = run_cli(capsys, "down")
    assert again.code == 0 and "no such cluster" in again.err


def test_up_stops_at_preflight_blocker_before_touching_kind(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    runner = kind_cluster_world([])
    runner.on("docker", "info", exit_code=1)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost())
    result = run_cli(capsys, "up")
    assert result.code == 1
    assert "error: preflight checks: docker: the Docker daemon is not reachable" in result.err
    assert not [argv for argv in runner.calls if argv[:2] == ["kind", "create"]]


ISSUER_PATCH_MAP = (
    "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    service-account-issuer: https://kubernetes.default.svc\n"
)
ISSUER_AS_LIST = [{"name": "service-account-issuer", "value": "https://kubernetes.default.svc"}]


def _api_server_args(rendered: str):
    node = yaml.safe_load(rendered)["nodes"][0]
    return yaml.safe_load(node["kubeadmConfigPatches"][0])["apiServer"]["extraArgs"]


@pytest.mark.parametrize(
    "node_image, expected",
    [
        # kind v0.32 writes kubeadm v1beta4 (extraArgs as a list) from Kubernetes 1.36 on
        ("kindest/node:v1.36.1@sha256:" + "a" * 64, ISSUER_AS_LIST),
        ("registry.local:5000/kind-node:v1.37.0", ISSUER_AS_LIST),
        ("my-node-image:latest", ISSUER_AS_LIST),
        ("kindest/node:v1.35.0", {"service-account-issuer": "https://kubernetes.default.svc"}),
    ],
)
def test_render_writes_kubeadm_args_in_the_form_the_node_reads(node_image, expected):
    base = {"kind": "Cluster", "nodes": [{"role": "control-plane", "kubeadmConfigPatches": [ISSUER_PATCH_MAP]}]}
    assert _api_server_args(render_kind_config(yaml.safe_dump(base), 0, node_image)) == expected


def test_render_turns_list_form_back_into_a_map_for_an_older_node():
    patch = yaml.safe_dump({"kind": "ClusterConfiguration", "apiServer": {"extraArgs": ISSUER_AS_LIST}})
    base = {"nodes": [{"role": "control-plane", "kubeadmConfigPatches": [patch]}]}
    rendered = render_kind_config(yaml.safe_dump(base), 0, "kindest/node:v1.34.0")
    assert _api_server_args(rendered) == {"service-account-issuer": "https://kubernetes.default.svc"}


def test_render_leaves_other_patches_and_kubelet_args_alone_or_converted():
    kubelet = "kind: KubeletConfiguration\nfailCgroupV1: false\n"
    join = "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: a=b\n"
    base = {"kubeadmConfigPatches": [kubelet, join], "nodes": [{"role": "control-plane"}]}
    rendered = yaml.safe_load(render_kind_config(yaml.safe_dump(base), 0, "kindest/node:v1.36.3"))
    docs = [yaml.safe_load(p) for p in rendered["kubeadmConfigPatches"]]
    assert docs[0] == {"kind": "KubeletConfiguration", "failCgroupV1": False}
    assert docs[1]["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-labels", "value": "a=b"}]


# ---------------------------------------------------------------------------------------- cgroup v1

CGROUP_V1_PATCH = {"kind": "KubeletConfiguration", "failCgroupV1": False}
PACKAGED = base_kind_config(Config())


def _kubelet_patches(rendered: str) -> list:
    """The cluster-wide KubeletConfiguration patches of a rendered kind config."""
    docs = [yaml.safe_load(p) for p in yaml.safe_load(rendered).get("kubeadmConfigPatches") or []]
    return [d for d in docs if d.get("kind") == "KubeletConfiguration"]


@pytest.mark.parametrize(
    "cgroup_version, node_image, patched",
    [
        ("1", "kindest/node:v1.35.0", True),  # kubelet refuses cgroup v1 from 1.35 on
        ("1", "kindest/node:v1.36.1@sha256:" + "a" * 64, True),
        ("1", "my-node-image:latest", True),  # no version in the tag: taken as current
        ("1", "kindest/node:v1.34.0", False),  # still runs on v1 by default
        ("2", "kindest/node:v1.36.1", False),
        (None, "kindest/node:v1.36.1", False),  # cannot tell: the config stays as it was
    ],
)
def test_render_lets_kubelet_run_on_a_cgroup_v1_host_from_1_35_on(cgroup_version, node_image, patched):
    rendered = render_kind_config(PACKAGED, 2, node_image, cgroup_version)
    assert _kubelet_patches(rendered) == ([CGROUP_V1_PATCH] if patched else [])


def test_render_writes_the_patches_as_blocks_kind_documents():
    rendered = render_kind_config(PACKAGED, 0, DEFAULT_NODE_IMAGE, "1")
    assert "kubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  failCgroupV1: false\n" in rendered
    assert "  - |\n    kind: ClusterConfiguration\n" in rendered


def test_render_adds_the_cgroup_v1_patch_once_however_often_it_runs():
    once = render_kind_config(PACKAGED, 2, DEFAULT_NODE_IMAGE, "1")
    assert render_kind_config(once, 2, DEFAULT_NODE_IMAGE, "1") == once
    assert _kubelet_patches(once) == [CGROUP_V1_PATCH]


def test_render_keeps_a_users_kind_config_as_it_says_on_cgroup_v1():
    users = "kind: Cluster\nnodes:\n- role: control-plane\n"
    rendered = render_kind_config(users, 1, DEFAULT_NODE_IMAGE, "1", users_config=True)
    assert "kubeadmConfigPatches" not in yaml.safe_load(rendered)


def cgroup_v1_world(existing=()) -> FakeRunner:
    return kind_cluster_world(list(existing)).on("docker", "info", "--format", "{{.CgroupVersion}}", stdout="1\n")


def test_up_on_a_cgroup_v1_host_writes_the_patch_and_warns_once(tmp_path, capsys):
    runner = cgroup_v1_world()
    ctx = context(runner, tmp_path, cluster={"name": "kf"})
    ClusterStep(ctx.config).run(ctx)
    rendered = (tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()
    assert _kubelet_patches(rendered) == [CGROUP_V1_PATCH]
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("warning:") == 1
    assert "Docker runs cgroup v1: added failCgroupV1: false to the kubelet configuration" in err
    assert "Kubernetes 1.36" in err and "deprecated" in err and "systemd.unified_cgroup_hierarchy=1" in err


def test_up_on_a_cgroup_v2_host_adds_nothing_and_says_nothing(tmp_path, capsys):
    runner = kind_cluster_world([])
    ctx = context(runner, tmp_path, cluster={"name": "kf"})
    ClusterStep(ctx.config).run(ctx)
    assert ["docker", "info", "--format", "{{.CgroupVersion}}"] in runner.calls
    assert _kubelet_patches((tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()) == []
    assert "warning" not in capsys.readouterr().err


def test_users_kind_config_without_the_patch_on_cgroup_v1_is_kept_and_says_kubelet_will_refuse(tmp_path, capsys):
    users = tmp_path / "my-kind.yaml"
    users.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n")
    ctx = context(cgroup_v1_world(), tmp_path, cluster={"name": "kf", "kind_config": str(users), "workers": 0})
    ClusterStep(ctx.config).run(ctx)
    assert _kubelet_patches((tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()) == []
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("warning:") == 1
    assert (
        "cluster.kind_config does not set failCgroupV1: false: the kubelet of Kubernetes 1.36 will refuse to start"
        in err
    )
    assert 'kubeadmConfigPatches: ["kind: KubeletConfiguration\\nfailCgroupV1: false"]' in err


def test_users_kind_config_with_the_patch_on_cgroup_v1_is_kept_without_a_warning(tmp_path, capsys):
    users = tmp_path / "my-kind.yaml"
    users.write_text(
        yaml.safe_dump({"kubeadmConfigPatches": ["kind: KubeletConfiguration\nfailCgroupV1: false\n"], "nodes": []})
    )
    ctx = context(cgroup_v1_world(), tmp_path, cluster={"name": "kf", "kind_config": str(users), "workers": 1})
    ClusterStep(ctx.config).run(ctx)
    assert _kubelet_patches((tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()) == [CGROUP_V1_PATCH]
    assert "warning" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- containerd config_path

# kind's documented entry, as the README shows it
CERTS_D_PATCH = '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"'


def _containerd_patches(rendered: str) -> list:
    return yaml.safe_load(rendered).get("containerdConfigPatches")


def test_generated_config_points_containerd_at_the_image_caches_certs_dir(tmp_path):
    from kfbootstrap.cache.hosts_toml import CERTS_DIR
    from kfbootstrap.steps.cluster import CONTAINERD_CERTS_PATCH

    assert CONTAINERD_CERTS_PATCH == CERTS_D_PATCH and f'config_path = "{CERTS_DIR}"' in CONTAINERD_CERTS_PATCH
    runner = kind_cluster_world([])
    ctx = context(runner, tmp_path, cluster={"name": "kf"})
    ClusterStep(ctx.config).run(ctx)
    rendered = (tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()
    assert _containerd_patches(rendered) == [CERTS_D_PATCH]
    assert 'containerdConfigPatches:\n- |-\n  [plugins."io.containerd.grpc.v1.cri".registry]\n' in rendered


@pytest.mark.parametrize("cgroup_version", ["1", "2", None])
def test_re_rendering_adds_no_second_containerd_or_kubelet_patch(cgroup_version):
    once = render_kind_config(PACKAGED, 2, DEFAULT_NODE_IMAGE, cgroup_version)
    twice = render_kind_config(once, 2, DEFAULT_NODE_IMAGE, cgroup_version)
    assert twice == once and _containerd_patches(twice) == [CERTS_D_PATCH]


def test_users_kind_config_gets_the_config_path_patch_after_its_own():
    mine = '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"'
    users = yaml.safe_dump({"containerdConfigPatches": [mine], "nodes": [{"role": "control-plane"}]})
    rendered = render_kind_config(users, 1, DEFAULT_NODE_IMAGE, "2", users_config=True)
    assert _containerd_patches(rendered) == [mine, CERTS_D_PATCH]


@pytest.mark.parametrize(
    "patch",
    [
        '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/mine.d"\n',
        '[plugins."io.containerd.cri.v1.images".registry]\nconfig_path="/etc/containerd/certs.d:/etc/docker/certs.d"',
        'plugins."io.containerd.grpc.v1.cri".registry.config_path = "/etc/containerd/mine.d"',
    ],
)
def test_users_kind_config_that_sets_config_path_keeps_its_own(patch):
    users = yaml.safe_dump({"containerdConfigPatches": [patch], "nodes": [{"role": "control-plane"}]})
    rendered = render_kind_config(users, 1, DEFAULT_NODE_IMAGE, "2", users_config=True)
    assert _containerd_patches(rendered) == [patch]


def test_a_commented_out_config_path_does_not_count():
    patch = '[plugins."io.containerd.grpc.v1.cri".registry]\n  # config_path = "/etc/containerd/certs.d"'
    users = yaml.safe_dump({"containerdConfigPatches": [patch], "nodes": [{"role": "control-plane"}]})
    assert _containerd_patches(render_kind_config(users, 0, DEFAULT_NODE_IMAGE, users_config=True)) == [
        patch,
        CERTS_D_PATCH,
    ]
