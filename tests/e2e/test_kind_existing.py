"""kfbootstrap onto a Kind cluster that kind itself made (issue 11's tests 8, 3 and 5).

One single-node cluster for the module, created with `kind create cluster` (not by us):
`up --context` creates nothing and `down` refuses to delete it; MetalLB (the chart fixture,
its controller and speaker built from the Go module) gets the pool computed from the real
`docker network inspect kind`; a chart whose image cannot be pulled (the Grafana fixture)
shows ImagePullBackOff with the image's name in the readiness wait's timeout table;
`down --keep-cluster` removes only what we applied.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest
import yaml

from tests.e2e.conftest import make_session, unique_name, wait_until
from tests.shared_fixtures import fixture_path

pytestmark = pytest.mark.kind

NAME = unique_name("kfb-e2e-ext")
# This cluster is the user's, made with kind alone, so it carries what a user on a cgroup v1
# host must write into their own kind config (kubelet >= 1.35 refuses v1 otherwise); the
# clusters kfbootstrap creates get it from `up` itself.
USERS_CGROUP_V1_PATCH = "kind: KubeletConfiguration\nfailCgroupV1: false\n"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def our_containers() -> set[str]:
    """This cluster's node containers (ID and start time: a re-created node would differ).

    The engine is shared with other checkouts' tests, so only what `up` could make for this
    config counts: nodes of a Kind cluster of this name.
    """
    ids = docker("ps", "-aq", "--filter", f"label=io.x-k8s.kind.cluster={NAME}").split()
    return set(docker("inspect", "--format", "{{.Name}} {{.Id}} {{.State.StartedAt}}", *ids).splitlines())


@pytest.fixture(scope="module")
def cluster(ground, tmp_path_factory):
    charts = {
        "metallb": {"path": str(fixture_path("charts", "metallb-0.16.1.tgz"))},
        "grafana": {"path": str(fixture_path("charts", "grafana-10.5.15.tgz"))},
    }
    session = make_session(ground, tmp_path_factory, NAME)
    kind_config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "kubeadmConfigPatches": [USERS_CGROUP_V1_PATCH],
        "nodes": [{"role": "control-plane"}],
    }
    (session.root / "kind-made.yaml").write_text(yaml.safe_dump(kind_config))
    session.kind(
        "create",
        "cluster",
        "--name",
        NAME,
        "--image",
        ground.node_image,
        "--config",
        str(session.root / "kind-made.yaml"),
        "--wait",
        "120s",
        timeout=600,
    )
    # the chart fixtures instead of their repositories; kind made this cluster, so: --context
    session.extra = {"charts": charts}
    session.write_config()
    session.kubectl("create", "configmap", "not-ours", "--from-literal=keep=me")
    yield session
    session.delete_cluster()


def up(cluster, *extra: str, timeout: float = 900):
    return cluster.kfb("up", "--context", cluster.context, *extra, timeout=timeout)


def test_up_onto_a_kind_made_cluster_creates_nothing(cluster):
    before = our_containers()
    assert len(before) == 1
    result = up(cluster)
    assert result.returncode == 0, result.stdout + result.stderr
    assert our_containers() == before
    assert cluster.clusters().count(NAME) == 1
    assert "kind create" not in result.stderr


def test_down_refuses_to_delete_a_cluster_we_did_not_create(cluster):
    refused = cluster.kfb("down", "--context", cluster.context)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "error: kfbootstrap did not create the cluster" in refused.stderr
    assert "--keep-cluster" in refused.stderr
    assert NAME in cluster.clusters()


def kind_network() -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]:
    configs = json.loads(docker("network", "inspect", "kind", "--format", "{{json .IPAM.Config}}"))
    v4 = next(c for c in configs if ":" not in c["Subnet"])
    return ipaddress.ip_network(v4["Subnet"]), ipaddress.ip_address(v4["Gateway"])


def test_metallb_pool_comes_from_the_real_kind_network(cluster):
    for image in cluster.ground.metallb_images:
        cluster.kind("load", "docker-image", "--name", NAME, image)
    cluster.components["metallb"] = True
    cluster.write_config()
    result = up(cluster)
    assert result.returncode == 0, result.stdout + result.stderr

    subnet, gateway = kind_network()
    pool = cluster.kubectl_json("-n", "metallb-system", "get", "ipaddresspools.metallb.io", "kfbootstrap-pool")
    [addresses] = pool["spec"]["addresses"]
    first, last = (ipaddress.ip_address(a) for a in addresses.split("-"))
    assert first in subnet and last in subnet and first <= last
    assert not first <= gateway <= last
    assert last < subnet.broadcast_address
    assert f"pool {addresses}" in result.stderr

    # MetalLB's own controller hands a LoadBalancer Service an address from that pool
    cluster.kubectl("create", "service", "loadbalancer", "lb-probe", "--tcp=80:8080")
    ingress = wait_until(
        lambda: cluster.kubectl_json("get", "service", "lb-probe")["status"].get("loadBalancer", {}).get("ingress"),
        90,
        what="a LoadBalancer address",
    )
    assert first <= ipaddress.ip_address(ingress[0]["ip"]) <= last


def test_unpullable_image_shows_in_the_timeout_table(cluster):
    cluster.components["grafana"] = True
    cluster.write_config()
    result = up(cluster, "--timeout", "90s", timeout=900)
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "ImagePullBackOff" in text or "ErrImagePull" in text, text
    pods = cluster.kubectl_json("-n", "monitoring", "get", "pods", "-l", "app.kubernetes.io/name=grafana")["items"]
    statuses = [
        s for p in pods for s in p["status"].get("initContainerStatuses", []) + p["status"].get("containerStatuses", [])
    ]
    stuck = {
        s["image"]
        for s in statuses
        if s.get("state", {}).get("waiting", {}).get("reason") in ("ImagePullBackOff", "ErrImagePull")
    }
    assert stuck, statuses
    # the table names the image the real kubelet could not pull (the first one the pod needs)
    assert any(f"image {image}" in text for image in stuck), (stuck, text)
    assert "monitoring/grafana (ImagePullBackOff)" in text or "monitoring/grafana (ErrImagePull)" in text


def test_down_keep_cluster_removes_only_what_we_applied(cluster):
    result = cluster.kfb("down", "--keep-cluster", "--context", cluster.context, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert NAME in cluster.clusters()
    assert cluster.kubectl("get", "configmap", "not-ours", check=False).returncode == 0

    def pool_gone():
        return (
            cluster.kubectl(
                "-n", "metallb-system", "get", "ipaddresspools.metallb.io", "kfbootstrap-pool", check=False
            ).returncode
            != 0
        )

    assert wait_until(pool_gone, 60, what="our IPAddressPool to be deleted"), result.stderr
