"""The hostile sweep's defects that need a real control plane or a real helm (issue 23, "The sweep's defects").

- `down --keep-cluster` by a user whose RBAC lets it list only some kinds: what it could not list is
  said, with the `auth can-i` command to check, and it is exit 1, never a ✓.
- `diagnose` against an API server that accepts and never answers, with the real helm, which has no
  request timeout of its own (over plain HTTP, where no TLS handshake timeout steps in): its
  `helm list` is bounded by timeouts.api.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from kfbootstrap.kube.objects import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from tests.cli_helpers import run_cli
from tests.integration.test_addons import use_testbed_kubeconfig
from tests.testbed.cluster import helm_binaries, wait_until

LISTER = "kfb-limitranges-only"


def _lister_context(testbed, namespace: str, tmp_path: Path, monkeypatch) -> str:
    """KUBECONFIG with the testbed's contexts plus LISTER: a ServiceAccount that may list and delete
    LimitRanges, and nothing else, cluster-wide (so nothing of other tests is in its reach)."""
    role = f"{namespace}-limitranges"
    testbed.kubectl("create", "serviceaccount", "lister", "-n", namespace)
    testbed.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role},
                "rules": [{"apiGroups": [""], "resources": ["limitranges"], "verbs": ["list", "delete"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": role},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "lister", "namespace": namespace}],
            },
        ]
    )
    token = testbed.kubectl("create", "token", "lister", "-n", namespace, "--duration", "1h").stdout.strip()
    use_testbed_kubeconfig(testbed, monkeypatch)
    kubeconfig = yaml.safe_load(Path(testbed.kubeconfig).read_text())
    cluster = next(c for c in kubeconfig["contexts"] if c["name"] == testbed.context)["context"]["cluster"]
    kubeconfig["users"].append({"name": LISTER, "user": {"token": token}})
    kubeconfig["contexts"].append({"name": LISTER, "context": {"cluster": cluster, "user": LISTER}})
    path = tmp_path / "kubeconfig-lister"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return role


def test_down_keep_cluster_says_what_it_could_not_list_and_fails(testbed, namespace, tmp_path, monkeypatch, capsys):
    role = _lister_context(testbed, namespace, tmp_path, monkeypatch)
    try:
        testbed.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "LimitRange",
                    "metadata": {
                        "name": "ours",
                        "namespace": namespace,
                        "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                    },
                    "spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]},
                }
            ]
        )
        # Listed before with INFO in the log and a ✓: "skipping configmaps: … forbidden".
        result = run_cli(capsys, "down", "--keep-cluster", "--context", LISTER)
    finally:
        testbed.kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found")
    assert result.code == 1, result.text
    assert "✓" not in result.err and "✗ Delete what kfbootstrap applied" in result.err
    error = next(line for line in result.err.splitlines() if line.startswith("error: "))
    assert error.startswith("error: 1 objects deleted, but "), error
    assert "kinds could not be listed (" in error and "so what kfbootstrap applied of them was not removed" in error
    assert f"(kube context {LISTER}): forbidden" in error
    hint = next(line for line in result.err.splitlines() if line.startswith("hint: "))
    assert f"`kubectl --context {LISTER} auth can-i list " in hint and "RESOURCE" not in hint
    assert "re-run `kfbootstrap down --keep-cluster` with a context that can" in hint

    def gone() -> bool:
        left = testbed.kubectl("get", "limitrange", "ours", "-n", namespace, "-o", "json", check=False)
        return left.returncode != 0 or bool(json.loads(left.stdout)["metadata"].get("deletionTimestamp"))

    wait_until(gone, 30, interval=1, what="the LimitRange we could delete to be deleted")


def test_diagnose_against_a_silent_server_is_bounded_with_the_real_helm(testbed, silent_server, tmp_path):
    helm_dir = tmp_path / "bin"
    helm_dir.mkdir()
    (helm_dir / "helm").symlink_to(helm_binaries(testbed.bin_dir)["helm3"])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "silent",
                        # Plain HTTP: over TLS, Go's own 10 s handshake timeout would end helm's wait.
                        "cluster": {"server": f"http://127.0.0.1:{silent_server}"},
                    }
                ],
                "users": [{"name": "someone", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "someone"}}],
                "current-context": "silent",
            }
        )
    )
    env = {
        **os.environ,
        **{key: testbed.env[key] for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")},
        "KUBECONFIG": str(kubeconfig),
        "KFBOOTSTRAP_STATE_DIR": str(tmp_path / "state"),
        "KFBOOTSTRAP_TIMEOUTS__API": "2",
        "PATH": str(helm_dir),  # helm only: no kind, no docker
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kfbootstrap", "diagnose", "--context", "silent", "--out", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert time.monotonic() - started < 60
    assert proc.returncode == 0, proc.stderr
    assert "warning: helm releases not collected: `" in proc.stderr and "did not finish within 19s" in proc.stderr
    assert list((tmp_path / "out").glob("*.tar.gz"))
