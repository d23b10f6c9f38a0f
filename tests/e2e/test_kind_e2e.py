"""End to end with real Docker and kind: runs only where `docker info` works (never on our CI machines).

It creates a real Kind cluster with kfbootstrap, checks the nodes, re-runs `up` to see it
is a no-op, then deletes the cluster with `down`.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.cli_helpers import run_cli


def _docker_works() -> bool:
    if not (shutil.which("docker") and shutil.which("kind")):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not _docker_works(), reason="needs a working Docker engine and kind")]

NAME = "kfb-e2e"


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "kfbootstrap.yaml"
    components = {name: False for name in ("kubeflow", "kserve", "metallb", "prometheus", "grafana",
                                           "model_registry", "object_store")}
    path.write_text(json.dumps({"cluster": {"name": NAME, "workers": 1}, "components": components,
                                "forwards": {"auto": False}}))
    yield path
    subprocess.run(["kind", "delete", "cluster", "--name", NAME], capture_output=True)


def test_up_creates_cluster_rerun_is_noop_and_down_deletes(config_file, capsys):
    first = run_cli(capsys, "up", "--config", config_file)
    assert first.code == 0, first.text
    nodes = subprocess.run(["kubectl", "--context", f"kind-{NAME}", "get", "nodes", "-o", "name"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(nodes) == 2
    second = run_cli(capsys, "up", "--config", config_file)
    assert second.code == 0 and "already done" in second.err
    gone = run_cli(capsys, "down", "--config", config_file)
    assert gone.code == 0
    assert NAME not in subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()
