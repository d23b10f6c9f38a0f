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


def kind_cluster_world(existing: list[str], api_ready: bool = True, create_fails_with: str = "") -> FakeRunner:
    """A fake docker/kind/kubectl where `kind create` really adds the cluster to `kind get clusters`
    (also when it fails, as with --retain, printing `create_fails_with`)."""
    clusters = list(existing)
    runner = healthy_runner()
    runner.on_call("kind", "get", "clusters", handler=lambda argv: Result(tuple(argv), 0, "\n".join(clusters), ""))

    def create(argv):
        clusters.append(argv[argv.index("--name") + 1])
        return Result(tuple(argv), 1 if create_fails_with else 0, "", create_fails_with)

    def delete(argv):
        name = argv[argv.index("--name") + 1]
        if name in clusters:  # kind deletes a cluster it does not know without complaint
            clusters.remove(name)
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
    step = ClusterStep()
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
        "--retain",  # a failed create keeps its nodes, to read kubelet's journal; then they are deleted
    ]
    rendered = yaml.safe_load(config_path.read_text())
    assert [n["role"] for n in rendered["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert {n["image"] for n in rendered["nodes"]} == {DEFAULT_NODE_IMAGE}
    assert "service-account-issuer" in rendered["nodes"][0]["kubeadmConfigPatches"][0]


def test_healthy_existing_cluster_is_reused(tmp_path):
    runner = kind_cluster_world(["kubeflow"])
    ctx = context(runner, tmp_path)
    assert ClusterStep().is_done(ctx)
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
    step = ClusterStep()
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
        run_steps([ClusterStep()], ctx)
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
    assert ExistingClusterStep().run(ctx) == "context prod"
    assert not runner.commands("kind")


def test_existing_cluster_with_unknown_context_lists_known_ones(tmp_path):
    runner = FakeRunner().on("kubectl", "config", "get-contexts", stdout="prod\n")
    ctx = context(runner, tmp_path, cluster={"context": "nope"})
    with pytest.raises(Exception, match="kube context 'nope' not found") as raised:
        ExistingClusterStep().run(ctx)
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
    ClusterStep().run(ctx)
    rendered = (tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()
    assert _kubelet_patches(rendered) == [CGROUP_V1_PATCH]
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("warning:") == 1
    assert "Docker runs cgroup v1: added failCgroupV1: false to the kubelet configuration" in err
    assert "Kubernetes 1.36" in err and "deprecated" in err and "systemd.unified_cgroup_hierarchy=1" in err


def test_up_on_a_cgroup_v2_host_adds_nothing_and_says_nothing(tmp_path, capsys):
    runner = kind_cluster_world([])
    ctx = context(runner, tmp_path, cluster={"name": "kf"})
    ClusterStep().run(ctx)
    assert ["docker", "info", "--format", "{{.CgroupVersion}}"] in runner.calls
    assert _kubelet_patches((tmp_path / "clusters" / "kf" / "kind-config.yaml").read_text()) == []
    assert "warning" not in capsys.readouterr().err


def test_users_kind_config_without_the_patch_on_cgroup_v1_is_kept_and_says_kubelet_will_refuse(tmp_path, capsys):
    users = tmp_path / "my-kind.yaml"
    users.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n")
    ctx = context(cgroup_v1_world(), tmp_path, cluster={"name": "kf", "kind_config": str(users), "workers": 0})
    ClusterStep().run(ctx)
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
    ClusterStep().run(ctx)
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
    ClusterStep().run(ctx)
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


# ---------------------------------------------------------------------------------------- kind create failing

KIND_ERROR = (
    'ERROR: failed to create cluster: failed to init node with kubeadm: command "docker exec --privileged '
    'kfb-control-plane kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: '
    "exit status 1"
)
# What kind v0.32 prints when kubeadm init fails: its ERROR line, kubeadm's output, then a Go stack dump.
KIND_CREATE_OUTPUT = "\n".join(
    [
        'Creating cluster "kfb" ...',
        " ✓ Ensuring node image (kindest/node:v1.36.1) 🖼",
        " ✓ Preparing nodes 📦 📦  ",
        " ✓ Writing configuration 📜",
        " ✗ Starting control-plane 🕹️",
        "Deleted nodes: []",  # never printed with --retain; here to show it is not mistaken for the error
        KIND_ERROR,
        "Command Output: I1202 10:00:00.000000     201 initconfiguration.go:261] loading configuration from "
        '"/kind/kubeadm.conf"',
        "[kubelet-check] The kubelet is not healthy after 4m0.000651s",
        "error execution phase wait-control-plane: failed while waiting for the kubelet to start",
        "Stack Trace: ",
        "sigs.k8s.io/kind/pkg/errors.WithStack",
        "\tsigs.k8s.io/kind/pkg/errors/errors.go:59",
        "sigs.k8s.io/kind/pkg/exec.(*LocalCmd).Run",
        "\tsigs.k8s.io/kind/pkg/exec/local.go:124",
        "sigs.k8s.io/kind/pkg/cluster/internal/create.Cluster",
        "\tsigs.k8s.io/kind/pkg/cluster/internal/create/create.go:135",
        "main.main",
        "\tsigs.k8s.io/kind/main.go:25",
        "runtime.main",
        "\truntime/proc.go:285",
        "runtime.goexit",
        "\truntime/asm_amd64.s:1771",
    ]
)
KUBELET_REFUSAL = (
    "failed to run Kubelet: kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is "
    "unsupported and will be removed in a future release. To re-enable cgroup v1 support, set failCgroupV1 to "
    "false in the kubelet configuration"
)
KUBELET_JOURNAL = "\n".join(
    [
        "Dec 02 09:59:59 kfb-control-plane systemd[1]: Started kubelet.service - kubelet: The Kubernetes Node Agent.",
        "Dec 02 10:00:00 kfb-control-plane kubelet[123]: Flag --container-runtime-endpoint has been deprecated",
        'Dec 02 10:00:00 kfb-control-plane kubelet[123]: I1202 10:00:00.000000     123 server.go:525] "Kubelet '
        'version" kubeletVersion="v1.36.1"',
        'Dec 02 10:00:00 kfb-control-plane kubelet[123]: E1202 10:00:00.000000 123 run.go:72] "command failed" '
        f'err="{KUBELET_REFUSAL}"',
        "Dec 02 10:00:00 kfb-control-plane systemd[1]: kubelet.service: Main process exited, code=exited, "
        "status=1/FAILURE",
        "Dec 02 10:00:00 kfb-control-plane systemd[1]: kubelet.service: Failed with result 'exit-code'.",
    ]
)
JOURNAL_ARGV = ["docker", "exec", "kfb-control-plane", "journalctl", "-u", "kubelet", "--no-pager", "-n", "200"]


def failing_create_world(journal: str = KUBELET_JOURNAL) -> FakeRunner:
    """kind create fails as above, leaving its nodes (--retain) for `kind get clusters` to list."""
    runner = kind_cluster_world([], create_fails_with=KIND_CREATE_OUTPUT)
    runner.on("docker", "exec", "kfb-control-plane", "journalctl", stdout=journal)
    return runner


def test_failed_create_says_kinds_error_and_kubelets_cause_and_deletes_the_retained_cluster(tmp_path):
    runner = failing_create_world()
    ctx = context(runner, tmp_path, cluster={"name": "kfb"})
    with pytest.raises(StepFailed) as raised:
        run_steps([ClusterStep()], ctx)
    error = raised.value
    assert error.message.splitlines() == [
        f"create kind cluster kfb: `kind create cluster` failed (exit 1): {KIND_ERROR}",
        f"kubelet's last error on kfb-control-plane: command failed: {KUBELET_REFUSAL}",
    ]
    assert error.exit_code == 1
    assert "asm_amd64" not in error.message + (error.hint or "")
    kind_and_journal = [argv for argv in runner.calls if argv[0] == "kind" and argv[1] != "get" or argv[0] == "docker"]
    assert kind_and_journal[-3:] == [
        [*runner.commands("kind")[-2][:9], "--retain"],
        JOURNAL_ARGV,
        ["kind", "delete", "cluster", "--name", "kfb"],
    ]
    assert "--retain" in runner.commands("kind")[-2]
    hint = " ".join((error.hint or "").split())
    assert "failCgroupV1: false" in hint and "its nodes were deleted, so a re-run starts clean" in hint
    assert "kind's full output and kubelet's journal are in " in hint and "kfbootstrap.log" in hint


def test_failed_create_without_a_kubelet_cause_shows_kinds_error_alone(tmp_path):
    runner = failing_create_world(journal="")
    ctx = context(runner, tmp_path, cluster={"name": "kfb"})
    with pytest.raises(StepFailed) as raised:
        run_steps([ClusterStep()], ctx)
    assert raised.value.message == f"create kind cluster kfb: `kind create cluster` failed (exit 1): {KIND_ERROR}"
    assert "failCgroupV1" not in (raised.value.hint or "")
    assert ["kind", "delete", "cluster", "--name", "kfb"] in runner.calls


def test_failed_create_whose_cleanup_fails_too_points_at_diagnose_and_down(tmp_path):
    runner = failing_create_world()
    runner.on("kind", "delete", "cluster", exit_code=1, stderr="ERROR: failed to delete nodes: permission denied")
    ctx = context(runner, tmp_path, cluster={"name": "kfb"})
    with pytest.raises(StepFailed) as raised:
        run_steps([ClusterStep()], ctx)
    hint = " ".join((raised.value.hint or "").split())
    assert "its nodes are left (`kind delete cluster` failed (exit 1): ERROR: failed to delete nodes" in hint
    assert "`kfbootstrap diagnose` collects their logs, `kfbootstrap down` deletes them" in hint


def test_up_with_kind_failing_prints_one_error_line_the_cause_and_a_hint_and_logs_kinds_output(
    monkeypatch, tmp_path, capsys
):
    from kfbootstrap import paths

    monkeypatch.chdir(tmp_path)
    runner = failing_create_world()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost())
    result = run_cli(capsys, "up", "--name", "kfb", "--no-expose")
    assert result.code == 1, result.text
    lines = result.err.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    assert lines[error] == f"error: create kind cluster kfb: `kind create cluster` failed (exit 1): {KIND_ERROR}"
    assert lines[error + 1] == f"kubelet's last error on kfb-control-plane: command failed: {KUBELET_REFUSAL}"
    assert lines[error + 2].startswith("hint: ") and str(paths.log_file()) in lines[error + 2]
    assert "asm_amd64" not in result.err and "Stack Trace" not in result.err
    logged = paths.log_file().read_text()
    assert "runtime/asm_amd64.s:1771" in logged and "Command Output:" in logged  # kind's whole output
    assert "failCgroupV1 to false" in logged  # and kubelet's journal
    assert ["kind", "delete", "cluster", "--name", "kfb"] in runner.calls


def test_down_with_kind_delete_failing_shows_kinds_error_line_and_logs_the_rest(monkeypatch, tmp_path, capsys):
    from kfbootstrap import paths

    monkeypatch.chdir(tmp_path)
    runner = kind_cluster_world(["kubeflow"])
    output = 'Deleting cluster "kubeflow" ...\nERROR: failed to delete cluster "kubeflow": boom\n'
    stack = "Stack Trace: \nmain.main\n\tsigs.k8s.io/kind/main.go:25\nruntime.goexit\n\truntime/asm_amd64.s:1771\n"
    runner.on("kind", "delete", "cluster", exit_code=1, stderr=output + stack)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    result = run_cli(capsys, "down")
    assert result.code == 1
    assert (
        'error: `kind delete cluster` failed (exit 1): ERROR: failed to delete cluster "kubeflow": boom'
        in result.err.splitlines()
    )
    assert "asm_amd64" not in result.err and str(paths.log_file()) in result.err
    assert "label=io.x-k8s.kind.cluster=kubeflow" in result.err
    assert "runtime/asm_amd64.s:1771" in paths.log_file().read_text()


@pytest.mark.parametrize(
    "output, line",
    [
        (KIND_CREATE_OUTPUT, KIND_ERROR),
        # no ERROR line: the last line that is not a stack frame, never "runtime/asm_amd64.s:1771"
        ("something broke\nStack Trace: \nruntime.goexit\n\truntime/asm_amd64.s:1771\n", "something broke"),
        ("", "no output"),
    ],
)
def test_kinds_error_line(output, line):
    from kfbootstrap.tools.kind import error_line

    assert error_line(output) == line


@pytest.mark.parametrize(
    "journal, cause",
    [
        (KUBELET_JOURNAL, f"command failed: {KUBELET_REFUSAL}"),
        # no fatal line: kubelet's last error-level line, without the journal's and klog's prefixes
        (
            'Dec 02 10:00:00 n kubelet[1]: E1202 10:00:00.000000 1 kubelet.go:3117] "Error getting node" '
            'err="node \\"n\\" not found"\n'
            'Dec 02 10:00:01 n kubelet[1]: I1202 10:00:01.000000 1 kubelet.go:1] "Started"',
            'Error getting node: node "n" not found',
        ),
        ("-- No entries --", None),
        ("", None),
    ],
)
def test_kubelet_cause(journal, cause):
    from kfbootstrap.steps.cluster import kubelet_cause

    assert kubelet_cause(journal) == cause
