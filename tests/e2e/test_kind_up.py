"""`up` and `down` on a real Kind cluster made from our kind-config.yaml (issue 11, test 1).

One cluster for the module: up creates it, the next tests look at it (nodes, the kubeadm
patch, re-run, status), the last one deletes it with `down`.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import make_session, ready_nodes, wait_until

pytestmark = pytest.mark.kind

NAME = "kfb-e2e-up"


@pytest.fixture(scope="module")
def cluster(ground, tmp_path_factory):
    session = make_session(ground, tmp_path_factory, NAME, workers=1)
    first = session.kfb("up", timeout=1200)
    session.first_up = first
    yield session
    session.delete_cluster()


def test_up_creates_the_cluster_with_the_configured_workers(cluster):
    assert cluster.first_up.returncode == 0, cluster.first_up.stdout + cluster.first_up.stderr
    assert NAME in cluster.clusters()
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    roles = sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] else "worker"
                   for n in nodes)
    assert roles == ["control-plane", "worker"]
    ready = wait_until(lambda: len(ready_nodes(cluster)) == 2 and ready_nodes(cluster), 180, what="2 Ready nodes")
    assert len(ready) == 2
    # every node runs our offline image, so nothing had to be pulled for it
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {"v1.36.3"}


def test_the_kubeadm_issuer_patch_took_effect(cluster):
    discovery = json.loads(cluster.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert discovery["issuer"] == "https://kubernetes.default.svc"


def test_system_pods_run_without_pulling(cluster):
    def all_running():
        pods = cluster.kubectl_json("get", "pods", "-n", "kube-system")["items"]
        return pods and all(p["status"].get("phase") == "Running" for p in pods) and pods
    pods = wait_until(all_running, 180, what="kube-system pods Running")
    names = [p["metadata"]["name"] for p in pods]
    for prefix in ("coredns-", "kfbnet-", "kube-proxy-", "etcd-", "kube-apiserver-"):
        assert any(n.startswith(prefix) for n in names), (prefix, names)


def test_rerun_is_a_no_op(cluster):
    again = cluster.kfb("up", timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already done" in again.stderr
    assert [NAME] == [c for c in cluster.clusters() if c == NAME]


def test_status_answers(cluster):
    status = cluster.kfb("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)


def test_down_deletes_the_cluster(cluster):
    gone = cluster.kfb("down", timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert NAME not in cluster.clusters()
    assert cluster.kind("get", "nodes", "--name", NAME, check=False).stdout.strip() == ""
