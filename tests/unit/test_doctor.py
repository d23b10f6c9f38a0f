"""Doctor's findings against faked machines: what is wrong, and the exact fix."""

from __future__ import annotations

import pytest

from kfbootstrap.config import Config
from kfbootstrap.preflight.checks import collect_findings
from kfbootstrap.preflight.findings import FAIL, OK, WARN, Finding
from kfbootstrap.preflight.machine import INOTIFY_FIX
from tests.cli_helpers import run_cli
from tests.fakes import FakeHost, FakeRunner, healthy_runner


def findings_by_check(config=None, runner=None, host=None, fix=False):
    found = collect_findings(config or Config(), runner or healthy_runner(), host or FakeHost(), fix=fix)
    return {f.check: f for f in found}


def test_healthy_machine_has_no_blocker():
    found = findings_by_check()
    assert {f.status for f in found.values()} == {OK}
    assert found["kind"].detail == "v0.32.0" and found["kubectl"].detail == "v1.34.1"
    assert found["kustomize"].detail == "v5.7.1 (built into kubectl)"
    assert found["memory"].detail == "32.0 GiB on the Docker engine"  # Docker's view, not the host's


@pytest.mark.parametrize(
    "runner, check, status, detail, fix",
    [
        (
            healthy_runner().on("docker", "info", exit_code=1, stderr="Cannot connect to the Docker daemon"),
            "docker",
            FAIL,
            "the Docker daemon is not reachable",
            "start Docker",
        ),
        (
            FakeRunner(missing=["docker"]).on("kind", "version", stdout="kind v0.30.0"),
            "docker",
            FAIL,
            "docker CLI not found",
            "install Docker",
        ),
        (
            healthy_runner().on("kind", "version", stdout="kind v0.20.0 go1.20"),
            "kind",
            FAIL,
            "v0.20.0 is older than v0.27.0",
            "upgrade kind",
        ),
        (
            healthy_runner().on("kind", "version", stdout="kind v0.30.0 go1.24"),
            "kind",
            WARN,
            "v0.30.0 works; release 26.03.1 was tested with kind v0.32.0",
            "upgrade kind to v0.32.0",
        ),
        (
            healthy_runner().on("kubectl", "version", stdout='{"clientVersion": {"gitVersion": "v1.27.3"}}'),
            "kubectl",
            FAIL,
            "v1.27.3 is older than v1.30.0",
            "upgrade kubectl",
        ),
        (
            healthy_runner().on("helm", "version", stdout="v3.8.0+gabc"),
            "helm",
            FAIL,
            "v3.8.0 is older than v3.12.0",
            "upgrade helm",
        ),
        (
            healthy_runner().on("helm", "version", exit_code=127, stderr="helm: broken install"),
            "helm",
            FAIL,
            "helm: broken install",
            "install helm v3.12+ or v4",
        ),
        # helm 2 prints its client version, then fails on Tiller: named as helm 2, not "broken"
        (
            healthy_runner().on(
                "helm", "version", exit_code=1, stdout="Client: v2.17.0+ga690bad", stderr="Error: could not find tiller"
            ),
            "helm",
            FAIL,
            "helm v2.17.0 is helm 2 (Tiller), which kfbootstrap does not drive",
            "install helm v3.12+ or v4",
        ),
        (
            healthy_runner().on("helm", "version", stdout="v5.0.0+g0000000"),
            "helm",
            FAIL,
            "helm v5.0.0 is a major version kfbootstrap does not know",
            "install helm v3.12+ or v4",
        ),
        (
            healthy_runner().on("helm", "version", stdout="a helm of our own"),
            "helm",
            FAIL,
            "could not read a helm version from 'a helm of our own'",
            "install helm v3.12+ or v4",
        ),
        (
            healthy_runner()
            .on(
                "kubectl",
                "version",
                stdout='{"clientVersion": {"gitVersion": "v1.31.0"}, "kustomizeVersion": "v4.5.7"}',
            )
            .on("kustomize", "version", exit_code=1, stderr="no kustomize"),
            "kustomize",
            FAIL,
            "failed: no kustomize",
            "kustomize v5+",
        ),
    ],
)
def test_tool_problems_are_reported_with_a_fix(runner, check, status, detail, fix):
    finding = findings_by_check(runner=runner)[check]
    assert finding.status == status
    assert detail in finding.detail
    assert fix in finding.fix


def test_kind_is_judged_against_the_chosen_release_s_ci():
    older = Config.model_validate({"kubeflow": {"version": "26.03"}})
    runner = healthy_runner().on("kind", "version", stdout="kind v0.30.0 go1.24")
    assert findings_by_check(older, runner)["kind"].status == OK  # 26.03's CI used v0.30.0
    assert findings_by_check(Config(), runner)["kind"].status == WARN


@pytest.mark.parametrize("version", ["v3.19.0+g3d8990f", "v4.3.1+g4ae2ed4"])
def test_helm_3_and_helm_4_are_both_fine(version):
    finding = findings_by_check(runner=healthy_runner().on("helm", "version", stdout=version))["helm"]
    assert (finding.status, finding.detail) == (OK, version.split("+")[0])


def test_missing_kind_is_a_blocker_with_install_hint():
    runner = healthy_runner()
    runner.missing.add("kind")
    finding = findings_by_check(runner=runner)["kind"]
    assert (finding.status, finding.detail) == (FAIL, "not found on PATH")
    assert "kind.sigs.k8s.io" in finding.fix


@pytest.mark.parametrize(
    "memory_gib, cpus, profile, memory_status, cpu_status",
    [
        (8, 8, "full", FAIL, OK),
        (14, 6, "full", WARN, WARN),
        (12, 4, "minimal", OK, WARN),
        (6, 2, "minimal", FAIL, FAIL),
    ],
)
def test_resources_against_the_profile(memory_gib, cpus, profile, memory_status, cpu_status):
    runner = healthy_runner().on("docker", "info", stdout='{"ServerVersion": "28", "OperatingSystem": "Ubuntu"}')
    found = findings_by_check(Config(profile=profile), runner, FakeHost(memory_gib=memory_gib, cpus=cpus))
    assert (found["memory"].status, found["cpus"].status) == (memory_status, cpu_status)
    assert "host" in found["memory"].detail  # Docker gave no sizes, so the host's were used


def test_a_bare_cluster_needs_only_what_kind_needs():
    runner = healthy_runner().on("docker", "info", stdout='{"ServerVersion": "28", "OperatingSystem": "Ubuntu"}')
    bare = Config.model_validate({"components": {name: False for name in Config().components.model_dump()}})
    found = findings_by_check(bare, runner, FakeHost(memory_gib=24, cpus=2))
    assert found["cpus"].status == WARN and "a cluster without components" in found["cpus"].detail
    assert findings_by_check(Config(), runner, FakeHost(memory_gib=24, cpus=2))["cpus"].status == FAIL


def test_low_inotify_is_a_blocker_with_the_exact_command():
    host = FakeHost(sysctls={"fs.inotify.max_user_instances": 128, "fs.inotify.max_user_watches": 2000000})
    found = findings_by_check(host=host)
    assert found["fs.inotify.max_user_instances"].status == FAIL
    assert found["fs.inotify.max_user_instances"].detail == "128 < 2280"
    assert INOTIFY_FIX in found["fs.inotify.max_user_instances"].fix
    assert INOTIFY_FIX == "sudo sysctl -w fs.inotify.max_user_instances=2280 fs.inotify.max_user_watches=1255360"
    assert found["fs.inotify.max_user_watches"].status == OK


def test_inotify_is_changed_only_with_fix():
    host = FakeHost(sysctls={"fs.inotify.max_user_instances": 128, "fs.inotify.max_user_watches": 100})
    runner = healthy_runner()
    findings_by_check(runner=runner, host=host)
    assert not any("sysctl" in argv for argv in runner.calls for argv in argv)

    def apply(argv):
        for assignment in argv[3:]:
            key, value = assignment.split("=")
            host.sysctls[key] = int(value)
        from kfbootstrap.tools.runner import Result

        return Result(tuple(argv), 0, "", "")

    runner.on_call("sudo", "sysctl", handler=apply)
    found = findings_by_check(runner=runner, host=host, fix=True)
    assert [
        "sudo",
        "sysctl",
        "-w",
        "fs.inotify.max_user_instances=2280",
        "fs.inotify.max_user_watches=1255360",
    ] in runner.calls
    assert found["fs.inotify.max_user_instances"].status == OK


def test_inotify_is_not_checked_off_linux():
    found = findings_by_check(host=FakeHost(system="Darwin", sysctls={}))
    assert not any(check.startswith("fs.inotify") for check in found)


def test_busy_port_names_its_holder_as_a_warning():
    found = findings_by_check(host=FakeHost(busy_ports={3000: "pid 42 (node)"}))
    finding = found["port 3000 (grafana)"]
    assert (finding.status, finding.detail) == (WARN, "in use by pid 42 (node)")
    assert "forwards.ports.grafana" in finding.fix


def test_existing_cluster_skips_docker_kind_and_host_checks():
    found = findings_by_check(
        Config.model_validate({"cluster": {"context": "prod"}}),
        FakeRunner(missing=["docker", "kind"])
        .on("kubectl", "version", stdout='{"clientVersion": {"gitVersion": "v1.33.0"}, "kustomizeVersion": "v5.6.0"}')
        .on("helm", "version", stdout="v3.19.0"),
    )
    assert "docker" not in found and "kind" not in found and "memory" not in found
    assert all(f.status == OK for f in found.values())


def test_disabled_helm_components_skip_the_helm_check():
    config = Config.model_validate({"components": {"prometheus": False, "grafana": False, "metallb": False}})
    assert "helm" not in findings_by_check(config)


def test_doctor_command_exits_1_on_blocker_and_prints_table(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    runner = healthy_runner()
    runner.missing.add("kind")
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost())
    result = run_cli(capsys, "doctor")
    assert result.code == 1
    assert "kind" in result.out and "not found on PATH" in result.out


def test_doctor_json_and_exit_0_when_healthy(monkeypatch, tmp_path, capsys):
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", healthy_runner)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost())
    result = run_cli(capsys, "doctor", "--json")
    assert result.code == 0, result.text
    rows = json.loads(result.out)
    assert {row["check"] for row in rows} >= {"docker", "kind", "kubectl", "helm", "memory"}
    assert all(set(row) == {"check", "status", "detail", "fix"} for row in rows)


@pytest.mark.parametrize("columns", ["80", "40"])
def test_doctor_prints_every_fix_whole_at_any_width(columns, monkeypatch, tmp_path, capsys):
    """No terminal (as in CI) and a narrow one: cells wrap, fixes are printed below the table uncut."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(
        "kfbootstrap.ui.out",
        __import__("rich.console", fromlist=["Console"]).Console(highlight=False, soft_wrap=True, width=int(columns)),
    )
    runner = healthy_runner().on("kind", "version", stdout="kind v0.20.0 go1.20")
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    monkeypatch.setattr(
        "kfbootstrap.cli.common.new_host",
        lambda: FakeHost(sysctls={"fs.inotify.max_user_instances": 128, "fs.inotify.max_user_watches": 8192}),
    )
    result = run_cli(capsys, "doctor")
    assert result.code == 1
    assert "…" not in result.out
    lines = result.out.splitlines()
    assert f"fs.inotify.max_user_instances: {INOTIFY_FIX}  (or `kfbootstrap doctor --fix`)" in "\n".join(lines)
    assert any(
        line.strip().startswith(
            "1. kind: upgrade kind: install kind v0.27.0+ (v0.32.0 tested with 26.03.1): https://kind.sigs.k8s.io/"
        )
        and line.rstrip().endswith("#installation")
        for line in lines
    )


# ------------------------------------------------------------------ disk, Docker Desktop's VM


def docker_info(**fields) -> str:
    import json

    base = {
        "ServerVersion": "28.2.2",
        "MemTotal": 34359738368,
        "NCPU": 8,
        "OperatingSystem": "Ubuntu 24.04",
        "DockerRootDir": "/srv/docker",
        "Architecture": "x86_64",
    }
    return json.dumps({**base, **fields})


@pytest.mark.parametrize(
    "free, status, detail",
    [
        (500.0, OK, "500 GiB free at /srv/docker (images 28 GiB + volumes 83 GiB needed)"),
        (60.0, WARN, "60 GiB free at /srv/docker; images 28 GiB + volumes 83 GiB requested"),
        (12.0, FAIL, "12 GiB free at /srv/docker; the images alone need 28 GiB"),
    ],
)
def test_free_disk_where_docker_keeps_its_data(free, status, detail):
    runner = healthy_runner().on("docker", "info", stdout=docker_info())
    found = findings_by_check(runner=runner, host=FakeHost(free_disk={"/srv/docker": free}))["disk"]
    assert (found.status, found.detail.startswith(detail)) == (status, True), found
    if status == FAIL:
        assert "docker system prune" in found.fix


def test_disk_needs_follow_the_components():
    runner = healthy_runner().on("docker", "info", stdout=docker_info())
    addons = Config.model_validate({"components": {"kubeflow": False, "kserve": False, "grafana": False}})
    found = findings_by_check(addons, runner=runner, host=FakeHost(free_disk={"/srv/docker": 12.0}))["disk"]
    assert found.status == OK and "images 3 GiB + volumes 8 GiB" in found.detail


def test_docker_desktop_disk_cannot_be_told_and_says_where_to_look():
    runner = healthy_runner().on("docker", "info", stdout=docker_info(OperatingSystem="Docker Desktop"))
    found = findings_by_check(runner=runner, host=FakeHost(system="Darwin"))["disk"]
    assert found.status == WARN and found.detail.startswith("cannot tell: Docker Desktop keeps its data inside its VM")
    assert "Virtual disk limit" in found.fix


def test_docker_desktop_vm_memory_and_cpus_are_the_vms_with_its_settings_as_the_fix():
    runner = healthy_runner().on(
        "docker", "info", stdout=docker_info(OperatingSystem="Docker Desktop", MemTotal=8 * 1024**3, NCPU=2)
    )
    found = findings_by_check(runner=runner, host=FakeHost(system="Darwin", memory_gib=64, cpus=12))
    assert found["memory"].status == FAIL and "8.0 GiB on the Docker Desktop VM" in found["memory"].detail
    assert "raise Docker Desktop's Memory to at least 12" in found["memory"].fix
    assert found["cpus"].status == FAIL and "CPU limit" in found["cpus"].fix


def test_disk_of_an_unanswering_docker_cannot_be_told():
    runner = healthy_runner().on("docker", "info", exit_code=1)
    found = findings_by_check(runner=runner)["disk"]
    assert found.status == WARN and found.detail.startswith("cannot tell")


# ---------------------------------------------------------------------------------------- cgroup


def cgroup_runner(answer: str = "", exit_code: int = 0):
    return healthy_runner().on("docker", "info", "--format", "{{.CgroupVersion}}", stdout=answer, exit_code=exit_code)


def test_cgroup_v2_is_ok():
    assert findings_by_check(runner=cgroup_runner("2\n"))["cgroup"] == Finding("cgroup", OK, "v2")


def test_cgroup_v1_with_a_kubelet_that_refuses_it_is_a_warning_saying_up_patches_it():
    finding = findings_by_check(runner=cgroup_runner("1\n"))["cgroup"]
    assert finding.status == WARN and not finding.blocker
    assert finding.detail == (
        "v1: the kubelet of Kubernetes 1.36 refuses it by default; `up` adds failCgroupV1: false to its configuration"
    )
    assert "deprecated" in finding.fix and "systemd.unified_cgroup_hierarchy=1" in finding.fix
    assert "Docker Desktop runs v2" in finding.fix


def test_cgroup_v1_with_an_older_kubelet_is_ok():
    config = Config.model_validate({"cluster": {"node_image": "kindest/node:v1.34.0"}})
    finding = findings_by_check(config, runner=cgroup_runner("1"))["cgroup"]
    assert finding.status == OK and "v1 (deprecated" in finding.detail and "Kubernetes 1.34" in finding.detail


def test_cgroup_v1_with_a_users_kind_config_lacking_the_patch_says_what_to_add(tmp_path):
    users = tmp_path / "kind.yaml"
    users.write_text("kind: Cluster\nnodes:\n- role: control-plane\n")
    config = Config.model_validate({"cluster": {"kind_config": str(users)}})
    finding = findings_by_check(config, runner=cgroup_runner("1"))["cgroup"]
    assert finding.status == WARN
    assert "will refuse to start" in finding.detail and "cluster.kind_config" in finding.detail
    assert 'kubeadmConfigPatches: ["kind: KubeletConfiguration\\nfailCgroupV1: false"]' in finding.fix


@pytest.mark.parametrize("answer, exit_code", [("", 0), ("<no value>", 0), ("", 1)])
def test_unknown_cgroup_version_is_a_cannot_tell_row_not_a_blocker(answer, exit_code):
    finding = findings_by_check(runner=cgroup_runner(answer, exit_code))["cgroup"]
    assert finding.status == WARN and finding.detail.startswith("cannot tell")


def test_no_cgroup_row_without_docker_or_when_using_an_existing_cluster():
    unreachable = healthy_runner().on("docker", "info", "--format", "{{json .}}", exit_code=1)
    assert "cgroup" not in findings_by_check(runner=unreachable)
    existing = Config.model_validate({"cluster": {"context": "prod"}})
    assert "cgroup" not in findings_by_check(existing)
