"""tests/kind/sweep.sh on the real engine: what a killed e2e run leaves is removed, even frozen.

The hazard it repairs, reproduced: a process inside a node container sits in a cgroup the
freezer left FROZEN (as when a run is killed while runc starts a container in the node), so
`docker rm -f` of the node cannot finish. The stand-in node is a container of our own test
image carrying kind's cluster label, which is all `kind delete cluster` looks for.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, unique_name, wait_until

pytestmark = pytest.mark.kind

SWEEP = REPO / "tests" / "kind" / "sweep.sh"
FREEZER = Path("/sys/fs/cgroup/freezer/docker")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def frozen_node(ground):
    if not FREEZER.is_dir():
        pytest.fail(f"{FREEZER} is missing: this test needs the cgroup v1 freezer docker uses here", pytrace=False)
    cluster = unique_name("kfb-sweep")
    node_id = docker(
        "run",
        "-d",
        "--name",
        f"{cluster}-control-plane",
        "--label",
        f"io.x-k8s.kind.cluster={cluster}",
        ground.echo_image,
    ).stdout.strip()
    inner = FREEZER / node_id / "kfb-test-inner"
    inner.mkdir()
    pid = docker("inspect", "-f", "{{.State.Pid}}", node_id).stdout.strip()
    (inner / "cgroup.procs").write_text(pid)
    (inner / "freezer.state").write_text("FROZEN")
    wait_until(lambda: (inner / "freezer.state").read_text().strip() == "FROZEN", timeout=10)
    yield cluster, node_id, inner
    if inner.exists():
        (inner / "freezer.state").write_text("THAWED")
    docker("rm", "-f", node_id, check=False)


def sweep(ground, prefix: str, tmp_path: Path, age_min: str = "0") -> subprocess.CompletedProcess:
    env = dict(os.environ, KFB_SWEEP_PREFIX=prefix, KFB_SWEEP_AGE_MIN=age_min, KUBECONFIG=str(tmp_path / "kubeconfig"))
    return subprocess.run(["bash", str(SWEEP), str(ground.kind)], env=env, capture_output=True, text=True, timeout=180)


def test_a_young_leftover_is_left_alone(ground, frozen_node, tmp_path):
    """Another checkout's run may be using it right now: only old leftovers go."""
    cluster, node_id, inner = frozen_node
    result = sweep(ground, cluster, tmp_path, age_min="120")
    assert result.returncode == 0, result.stderr
    assert docker("inspect", "-f", "{{.State.Running}}", node_id).stdout.strip() == "true"
    assert (inner / "freezer.state").read_text().strip() == "FROZEN"


def test_a_frozen_leftover_is_thawed_and_deleted(ground, frozen_node, tmp_path):
    cluster, node_id, inner = frozen_node
    result = sweep(ground, cluster, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "thawing a frozen cgroup" in result.stderr
    assert f"deleting the leftover e2e cluster {cluster}" in result.stderr
    assert docker("ps", "-aq", "--filter", f"id={node_id}").stdout.strip() == ""


def test_another_prefix_is_never_touched(ground, frozen_node, tmp_path):
    cluster, node_id, _ = frozen_node
    result = sweep(ground, cluster + "-other", tmp_path)
    assert result.returncode == 0, result.stderr
    assert docker("inspect", "-f", "{{.State.Running}}", node_id).stdout.strip() == "true"
