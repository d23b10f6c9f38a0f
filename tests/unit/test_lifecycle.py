"""`stop` and `start`: the order of the node operations, the refusals, and what the restart repair finds.

Docker and kind are the FakeRunner's (it records argv); the e2e test (tests/e2e/test_kind_stop_start.py)
proves the same order on real nodes (the stop lines' order, the containers' start times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kfbootstrap import paths
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.lifecycle import addresses
from kfbootstrap.lifecycle.nodes import KindNode, kind_nodes, start_order, stop_order
from kfbootstrap.steps.cluster import ClusterStep
from kfbootstrap.tools.runner import Result
from tests.cli_helpers import run_cli
from tests.fakes import FakeHost, FakeRunner

NAME = "kfb"
NODES = {f"{NAME}-control-plane": "control-plane", f"{NAME}-worker": "worker", f"{NAME}-worker2": "worker"}


def kind_world(running: bool = True, addresses_now: dict[str, str] | None = None) -> FakeRunner:
    """kind lists three nodes; `docker stop` / `docker start` really change what `docker inspect` says."""
    state = dict.fromkeys(NODES, running)
    runner = FakeRunner()
    runner.on("kind", "get", "clusters", stdout=NAME)
    runner.on("kind", "get", "nodes", "--name", NAME, stdout="\n".join(NODES))

    def inspect(argv):
        name = argv[3]
        if name not in state:
            return Result(tuple(argv), 1, "", "no such container")
        if "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}" in argv:
            return Result(tuple(argv), 0, (addresses_now or {}).get(name, "") if state[name] else "", "")
        data = {"Config": {"Labels": {"io.x-k8s.kind.role": NODES[name]}}, "State": {"Running": state[name]}}
        return Result(tuple(argv), 0, json.dumps(data), "")

    def switch(to: bool):
        def handler(argv):
            for name in argv[2:]:
                if name in state:
                    state[name] = to
            return Result(tuple(argv), 0, "", "")

        return handler

    runner.on_call("docker", "container", "inspect", handler=inspect)
    runner.on_call("docker", "stop", handler=switch(False))
    runner.on_call("docker", "start", handler=switch(True))
    return runner


def ours(name: str = NAME) -> None:
    """What `up` leaves before it creates a cluster: its kind config in our state dir."""
    directory = paths.state_dir() / "clusters" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kind-config.yaml").write_text("kind: Cluster\n")


def node_calls(runner: FakeRunner, verb: str) -> list[list[str]]:
    return [
        argv[argv.index("--time") + 2 :] if "--time" in argv else argv[2:]
        for argv in runner.commands("docker")
        if argv[1] == verb
    ]


@pytest.fixture
def world(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    runner = kind_world()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    return runner


def test_stop_stops_the_workers_together_then_the_control_plane(world, capsys):
    ours()
    result = run_cli(capsys, "stop", "--name", NAME)
    assert result.code == 0, result.text
    assert node_calls(world, "stop") == [[f"{NAME}-worker", f"{NAME}-worker2"], [f"{NAME}-control-plane"]]
    assert "is stopped; `kfbootstrap start` brings it back" in result.err
    assert not any(kind_nodes(world, NAME)[i].running for i in range(3))


def test_stop_twice_skips_what_is_already_stopped(world, capsys):
    ours()
    run_cli(capsys, "stop", "--name", NAME)
    again = run_cli(capsys, "stop", "--name", NAME)
    assert again.code == 0, again.text
    assert len(node_calls(world, "stop")) == 2 and again.err.count("not running") == 2


def test_stop_leaves_the_image_caches_running_unless_all(world, capsys):
    ours()
    cache = json.dumps({"Config": {"Labels": {}}, "State": {"Running": True}})
    world.on("docker", "container", "inspect", "kfbootstrap-cache-docker-io", stdout=cache)  # the only one running
    plain = run_cli(capsys, "stop", "--name", NAME)
    assert plain.code == 0, plain.text
    assert not any("kfbootstrap-cache-docker-io" in call for call in node_calls(world, "stop"))
    every = run_cli(capsys, "stop", "--name", NAME, "--all")
    assert every.code == 0, every.text
    assert node_calls(world, "stop")[-1] == ["kfbootstrap-cache-docker-io"]  # after the control plane


@pytest.mark.parametrize("command", ["stop", "start"])
def test_a_cluster_kfbootstrap_did_not_create_is_refused(world, capsys, command):
    made_by_hand = run_cli(capsys, command, "--name", NAME)  # kind knows it, but `up` never wrote its config
    other_context = run_cli(capsys, command, "--context", "prod-cluster")
    for result in (made_by_hand, other_context):
        assert result.code == 2, result.text
        lines = result.err.strip().splitlines()
        assert lines[0].startswith("error: no Kind cluster "), lines
        assert lines[1].startswith("hint: ") and len(lines) == 2
    assert not node_calls(world, "stop") and not node_calls(world, "start")


def test_context_of_our_kind_cluster_means_that_cluster(world, capsys):
    ours()
    result = run_cli(capsys, "stop", "--context", f"kind-{NAME}")
    assert result.code == 0, result.text
    assert node_calls(world, "stop")


def test_stop_and_start_of_a_cluster_that_is_gone_say_so(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    runner = FakeRunner()  # kind lists no nodes
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    ours()
    for command in ("stop", "start"):
        result = run_cli(capsys, command, "--name", NAME)
        assert result.code == 1, result.text
        assert result.err.startswith(f"error: there is no Kind cluster {NAME}\nhint: `kfbootstrap up` creates it")


def test_stop_writes_down_this_clusters_forwards_and_ends_them(world, capsys):
    ours()
    directory = paths.state_dir() / "forwards"
    directory.mkdir(parents=True)
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "kfbootstrap.access.daemon"])
    spec = {
        "target": "grafana",
        "address": "127.0.0.1",
        "port": 18123,
        "namespace": "monitoring",
        "services": ["grafana"],
        "remote_port": 80,
        "context": f"kind-{NAME}",
    }
    (directory / "grafana.json").write_text(json.dumps({**spec, "pid": daemon.pid, "started_at": 1.0}))
    try:
        result = run_cli(capsys, "stop", "--name", NAME)
    finally:
        daemon.kill()
        daemon.wait()
    assert result.code == 0, result.text
    assert "Stop port-forwards (grafana)" in result.err
    assert not (directory / "grafana.json").exists()
    kept = json.loads((paths.state_dir() / "clusters" / NAME / "stopped-forwards.json").read_text())["forwards"]
    assert [(k["target"], k["port"], k["namespace"]) for k in kept] == [("grafana", 18123, "monitoring")]
    assert result.err.index("Stop port-forwards") < result.err.index(f"Stop {NAME}-worker")


def test_start_order_is_control_plane_first_and_stop_order_its_reverse():
    nodes = [KindNode("w2", False, False), KindNode("cp", True, False), KindNode("w1", False, False)]
    assert [[n.name for n in group] for group in start_order(nodes)] == [["cp"], ["w2", "w1"]]
    assert [[n.name for n in group] for group in stop_order(nodes)] == [["w2", "w1"], ["cp"]]


def context(runner, tmp_path) -> RunContext:
    return RunContext(
        config=Config.model_validate({"cluster": {"name": NAME}}), runner=runner, host=FakeHost(), state_dir=tmp_path
    )


def test_up_starts_a_stopped_cluster_instead_of_re_creating_it(tmp_path):
    runner = kind_world(running=False)
    runner.on("kubectl", "--context", exit_code=1)  # nothing answers while the nodes are stopped
    step, ctx = ClusterStep(), context(runner, tmp_path)
    assert not step.is_done(ctx)
    assert step.heading(ctx) == f"Start Kind cluster {NAME}"


def test_a_kind_create_cut_short_is_still_re_created(tmp_path):
    runner = kind_world(running=True)
    runner.on("kubectl", "--context", exit_code=1)
    runner.on("kubectl", "config", "get-contexts", stdout="kind-other\n")  # kind never wrote ours
    step, ctx = ClusterStep(), context(runner, tmp_path)
    assert not step.is_done(ctx)
    assert step.heading(ctx) == f"Create Kind cluster {NAME}"


def test_a_moved_node_is_found_by_the_address_it_was_configured_with():
    runner = kind_world(addresses_now={f"{NAME}-control-plane": "172.18.0.3", f"{NAME}-worker": "172.18.0.4"})
    runner.on(
        "docker",
        "exec",
        f"{NAME}-control-plane",
        "cat",
        addresses.ETCD_MANIFEST,
        stdout="    - --advertise-client-urls=https://172.18.0.2:2379\n",
    )
    runner.on(
        "docker",
        "exec",
        f"{NAME}-worker",
        "cat",
        addresses.KUBELET_FLAGS,
        stdout='KUBELET_KUBEADM_ARGS="--node-ip=172.18.0.4 --provider-id=kind://docker/kfb/kfb-worker"\n',
    )
    from kfbootstrap.tools.docker import Containers

    moved = addresses.moved_nodes(Containers(runner), kind_nodes(runner, NAME))
    assert [m.describe() for m in moved] == [f"{NAME}-control-plane 172.18.0.2 → 172.18.0.3"]


def test_the_repair_script_rewrites_the_old_address_only(tmp_path):
    """Run the control plane's script on copies of kubeadm's files (systemctl and crictl stand-ins on PATH)."""
    root = tmp_path / "node"
    files = {
        "etc/kubernetes/manifests/etcd.yaml": "- --listen-peer-urls=https://172.18.0.2:2380\n- --x=172.18.0.21\n",
        "etc/kubernetes/manifests/kube-apiserver.yaml": "- --advertise-address=172.18.0.2\n",
        "etc/kubernetes/scheduler.conf": "    server: https://172.18.0.2:6443\n",
        "var/lib/kubelet/kubeadm-flags.env": 'KUBELET_KUBEADM_ARGS="--node-ip=172.18.0.2"\n',
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("systemctl", "crictl"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho {tool} "$@" >> {tmp_path}/calls\n')
        (bin_dir / tool).chmod(0o755)
    moved = addresses.Moved(KindNode("kfb-control-plane", True, True), "172.18.0.2", "172.18.0.3")
    script = addresses.repair_script(moved).replace(" /etc/", f" {root}/etc/").replace(" /var/", f" {root}/var/")
    script = script.replace("[ -f /etc/", f"[ -f {root}/etc/")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", "-c", script], check=True, env=env)
    read = {path: (root / path).read_text() for path in files}
    assert (
        read["etc/kubernetes/manifests/etcd.yaml"]
        == "- --listen-peer-urls=https://172.18.0.3:2380\n- --x=172.18.0.21\n"
    )
    assert read["etc/kubernetes/manifests/kube-apiserver.yaml"] == "- --advertise-address=172.18.0.3\n"
    assert read["etc/kubernetes/scheduler.conf"] == "    server: https://kfb-control-plane:6443\n"
    assert read["var/lib/kubelet/kubeadm-flags.env"] == 'KUBELET_KUBEADM_ARGS="--node-ip=172.18.0.3"\n'
    assert "systemctl restart kubelet" in (tmp_path / "calls").read_text()


@pytest.mark.parametrize(
    ("pinned", "in_use", "expected"),
    [
        ("", "172.18.0.9/16", [["connect", "--ip", "172.18.0.2", "kind", "kfb-control-plane"]]),  # pinned back
        ("172.18.0.2", "172.18.0.9/16", []),  # already pinned to its own address
        ("172.18.0.2", "172.18.0.2/16", [["connect", "kind", "kfb-control-plane"]]),  # taken: Docker picks
        ("", "172.18.0.2/16", []),  # taken and not pinned: it moves, the repair follows
    ],
)
def test_a_stopped_node_gets_its_own_address_back_unless_another_container_holds_it(pinned, in_use, expected):
    runner = kind_world(running=False)
    node = "kfb-control-plane"
    manifest = "    - --advertise-client-urls=https://172.18.0.2:2379\n"
    runner.on("docker", "cp", f"{node}:{addresses.ETCD_MANIFEST}", "-", stdout=f"etcd.yaml\0\0\0{manifest}")
    stopped = {"Config": {"Labels": {"io.x-k8s.kind.role": "control-plane"}}, "State": {"Running": False}}
    runner.on(
        "docker",
        "container",
        "inspect",
        node,
        "--format",
        "{{json .}}",
        stdout=json.dumps({**stopped, "NetworkSettings": {"Networks": {"kind": {}}}}),
    )
    template = "{{range .NetworkSettings.Networks}}{{if .IPAMConfig}}{{.IPAMConfig.IPv4Address}}{{end}}{{end}}"
    runner.on("docker", "container", "inspect", node, "--format", template, stdout=pinned)
    runner.on("docker", "network", "inspect", "kind", stdout=in_use)
    from kfbootstrap.tools.docker import Containers

    addresses.keep_addresses(Containers(runner), [KindNode(node, True, False)])
    network = [argv[2:] for argv in runner.commands("docker") if argv[1] == "network" and argv[2] != "inspect"]
    assert [call for call in network if call[0] == "connect"] == expected
    assert len(network) == 2 * len(expected)  # each connect after its disconnect
