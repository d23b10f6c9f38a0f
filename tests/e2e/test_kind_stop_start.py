"""`stop`, `start`, and `up` after every node was killed, on the Kind ground (issue 22).

One cluster of two workers for the module, made by `up`: its 'Kubeflow' is a pre-rendered file
(tests/e2e/stop_start_ground.py) with our echo server behind a Service, forwarded in the background
on a port of this test, and a PVC holding a file. `stop` must leave no node running; `start`, and
`up` after `docker kill` of every node (with another container taking the control plane's address,
as after a reboot), must give back the API, every node Ready, the workload, the same forward port,
the file, the render marker and the Dex password, without re-applying anything.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import make_session, ready_nodes, unique_name, wait_until
from tests.e2e.stop_start_ground import (
    NAMESPACE,
    PAYLOAD,
    SERVICE,
    address,
    marker,
    node_file,
    nodes_running,
    platform_config,
    volume_path,
)
from tests.e2e.test_kind_up import free_port, get

pytestmark = pytest.mark.kind

NAME = unique_name("kfb-e2e-pause")


@pytest.fixture(scope="module")
def paused(ground, tmp_path_factory):
    session = make_session(ground, tmp_path_factory, NAME, workers=2)
    try:
        session.kfb("up", timeout=1200, check=True)
        session.kind("load", "docker-image", "--name", NAME, ground.echo_image)
        session.extra = platform_config(session.root, ground.echo_image)
        session.components["kubeflow"] = True
        session.write_config()
        session.kfb("up", timeout=900, check=True)
        for deployment in ("echo", "holder"):
            session.kubectl(
                "-n", NAMESPACE, "rollout", "status", f"deployment/{deployment}", "--timeout=180s", timeout=200
            )
        session.volume = volume_path(session.kubectl)
        node_file(session.volume[0], f"{session.volume[1]}/file.txt", PAYLOAD)
        session.port = free_port()
        session.kfb("expose", SERVICE, "-n", NAMESPACE, "--port", str(session.port), "--background", check=True)
        assert wait_until(lambda: get(session.port), 30, 0.5, what="the forward's first answer")
        session.addresses = {node: address(node) for node in nodes_running(NAME)}
        session.marker = marker(session.kubectl)
        session.creds = session.kfb("creds", "kubeflow", "--json", check=True).stdout
        yield session
    finally:
        session.kfb("expose", "--stop", SERVICE)
        session.delete_cluster()


def started_at(node: str) -> tuple[str, str]:
    return instant(inspect(node, "{{.State.StartedAt}}"))


def finished_at(node: str) -> tuple[str, str]:
    return instant(inspect(node, "{{.State.FinishedAt}}"))


def inspect(node: str, template: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", template, node], capture_output=True, text=True, check=True
    ).stdout.strip()


def instant(text: str) -> tuple[str, str]:
    """Docker's RFC 3339 UTC time as (seconds, nanoseconds) strings that compare in order (it trims the
    fraction's trailing zeros)."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    return seconds, fraction.ljust(9, "0")


def assert_all_back(session, result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert session.kubectl("get", "--raw", "/readyz").stdout == "ok"
    assert sorted(ready_nodes(session)) == sorted(nodes_running(NAME)), "every node Ready"
    session.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/echo", "--timeout=120s", timeout=150)
    assert (wait_until(lambda: get(session.port), 60, 0.5, what="the forward on the same port") or "").startswith(
        "echo-"
    )
    assert node_file(session.volume[0], f"{session.volume[1]}/file.txt") == PAYLOAD
    assert marker(session.kubectl) == session.marker  # not re-applied: the same render, applied at the same time
    assert "Install Kubeflow manifests (already done)" in result.stderr
    assert session.kfb("creds", "kubeflow", "--json", check=True).stdout == session.creds


def test_stop_leaves_no_node_running(paused):
    stopped = paused.kfb("stop", timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    running = nodes_running(NAME)
    assert len(running) == 3 and not any(running.values()), running
    # the workers first, the control plane last (the order the unit tests assert on the recorded calls)
    workers, control_plane = (
        stopped.stderr.index(f"✓ Stop {NAME}-worker"),
        stopped.stderr.index(f"✓ Stop {NAME}-control-plane"),
    )
    assert workers < control_plane and finished_at(f"{NAME}-worker") <= finished_at(f"{NAME}-control-plane")
    stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}}"], capture_output=True, text=True)
    assert not set(stats.stdout.split()) & set(running), "docker stats still counts a node's memory"
    assert get(paused.port) is None, "the forward was stopped with the cluster"
    status = paused.kfb("status")
    assert status.returncode == 0 and "stopped" in status.stdout and "kfbootstrap start" in status.stdout


def test_start_brings_everything_back(paused):
    started = paused.kfb("start", timeout=900)
    assert "Start Kind cluster" in started.stderr, started.stderr
    # kind made the nodes at once, so Docker would hand their addresses out in another order: each gets its own back
    assert "node addresses unchanged" in started.stderr, started.stderr
    assert {node: address(node) for node in paused.addresses} == paused.addresses
    control_plane = started_at(f"{NAME}-control-plane")
    assert all(control_plane <= started_at(node) for node in nodes_running(NAME)), "control plane first"
    assert_all_back(paused, started)


def test_up_after_every_node_was_killed_starts_it_again(paused):
    control_plane = f"{NAME}-control-plane"
    before = address(control_plane)
    subprocess.run(["docker", "kill", *nodes_running(NAME)], capture_output=True, check=True)
    # what a reboot may do: another container has the control plane's address when it comes back
    squatter = f"{NAME}-squatter"
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            squatter,
            "--network",
            "kind",
            "--ip",
            before,
            paused.ground.echo_image,
        ],
        capture_output=True,
        check=True,
    )
    try:
        again = paused.kfb("up", timeout=900)
    finally:
        subprocess.run(["docker", "rm", "-f", squatter], capture_output=True)
    assert address(control_plane) != before
    assert f"node addresses changed and repaired: {control_plane} {before} →" in again.stderr, again.stderr
    assert_all_back(paused, again)


def test_stop_refuses_a_cluster_kfbootstrap_did_not_create(paused):
    refused = paused.kfb("stop", "--context", "kind-made-by-hand")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert lines[0].startswith("error: no Kind cluster ") and lines[1].startswith("hint: ")
    assert all(nodes_running(NAME).values()), "nothing was stopped"
