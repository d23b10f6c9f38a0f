"""`up` killed while `kind create cluster` runs, then `up` again (issue 11, test 2).

The kill (SIGKILL to kfbootstrap and the kind it started) lands while kubeadm is
initialising the control plane: node containers exist, the cluster is listed by kind, but
it never got its CNI, its worker or kind's own finish. The next `up` must notice and leave a
whole cluster behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import make_session, ready_nodes, unique_name, wait_until

pytestmark = pytest.mark.kind

NAME = unique_name("kfb-e2e-cut")


def node_has(name: str, path: str) -> bool:
    return (
        subprocess.run(["docker", "exec", f"{name}-control-plane", "test", "-e", path], capture_output=True).returncode
        == 0
    )


@pytest.fixture
def session(ground, tmp_path_factory):
    session = make_session(ground, tmp_path_factory, NAME, workers=1)
    yield session
    session.delete_cluster()


def test_up_repairs_a_cluster_whose_creation_was_killed(session):
    argv = [sys.executable, "-m", "kfbootstrap", "up", "--config", str(session.config_file)]
    first = subprocess.Popen(
        argv,
        env=session.env(),
        cwd=session.root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # kind writes /kind/kubeadm.conf just before `kubeadm init`: kill a moment into it
        wait_until(lambda: node_has(NAME, "/kind/kubeadm.conf"), 300, 0.5, what="kind to start kubeadm")
        time.sleep(3)
        assert first.poll() is None, "up finished before it could be interrupted"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert NAME in session.clusters()  # half made: kind lists it
    assert not node_has(NAME, "/etc/cni/net.d/10-kfbnet.conflist") or len(ready_nodes_or_none(session)) < 2

    again = session.kfb("up", timeout=1200)
    assert again.returncode == 0, again.stdout + again.stderr
    # kind writes the kube context only once it is done: the half-made cluster does not answer
    assert f"cluster {NAME} exists but its API server does not answer; deleting and re-creating it" in again.stderr
    ready = wait_until(
        lambda: len(ready_nodes(session)) == 2 and ready_nodes(session), 180, what="control plane and worker Ready"
    )
    assert sorted(ready) == [f"{NAME}-control-plane", f"{NAME}-worker"]
    # and kind's own last steps happened: CNI and default StorageClass are there
    assert session.kubectl("-n", "kube-system", "get", "daemonset", "kfbnet", check=False).returncode == 0
    assert session.kubectl("get", "storageclass", "standard", check=False).returncode == 0


def ready_nodes_or_none(session) -> list[str]:
    try:
        return ready_nodes(session)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError):
        return []
