"""One `up` at a time per cluster, on the real control plane: the Lease kube-system/kfbootstrap-up.

`up` runs as a user runs it, as separate processes (`python -m kfbootstrap up`), against a
testbed of this module's own: Kubeflow only, from a two-object render, whose Deployment asks
for a node label no node has yet. So the first run holds the lock in its readiness wait for
as long as the test wants; labelling the node lets it finish.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from kfbootstrap import components
from kfbootstrap.kube.lease import DURATION, NAME, NAMESPACE, micro_time
from tests.cli_helpers import run_cli
from tests.integration.conftest import _locate
from tests.testbed.cluster import Testbed, wait_until

LABEL = "kfbootstrap.test/lock"


@pytest.fixture(scope="module")
def bed():
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir, nodes=1) as testbed:
        yield testbed


def write_config(tmp_path: Path, label_value: str) -> Path:
    render = tmp_path / "kubeflow.yaml"
    labels = {"app": "slow"}
    render.write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeflow"}},
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "slow", "namespace": "kubeflow"},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "nodeSelector": {LABEL: label_value},  # ready once the test labels the node
                                "containers": [{"name": "main", "image": "registry.invalid/slow:1"}],
                            },
                        },
                    },
                },
            ]
        )
    )
    config = tmp_path / "kfbootstrap.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubeflow": {"path": str(render), "keep_default_password": True},
                "components": {name: name == "kubeflow" for name in components.names()},
                "forwards": {"auto": False},
                "timeouts": {"apply": 60, "ready": 180},
            }
        )
    )
    return config


def lease(bed) -> dict | None:
    result = bed.kubectl("get", "lease", NAME, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def holder(bed) -> str | None:
    return ((lease(bed) or {}).get("spec") or {}).get("holderIdentity")


def start_up(bed, config: Path, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kfbootstrap", "up", "--context", bed.context, "--config", str(config), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": bed.kubeconfig, "CI": "1"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def finish(proc: subprocess.Popen, timeout: float = 120) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_two_ups_at_once_one_waits_naming_the_holder_and_completes_after_the_first(bed, tmp_path):
    config = write_config(tmp_path, "first")
    first = start_up(bed, config, tmp_path / "first.log")
    second = third = None
    try:
        me = wait_until(
            lambda: (holder(bed) or "").endswith(f":{first.pid}") and holder(bed), 60, what="the first up's lock"
        )
        spec = lease(bed)["spec"]
        assert spec["leaseDurationSeconds"] == DURATION and spec["acquireTime"] and spec["renewTime"]
        assert "@" in me and me.split("@")[1].split(":")[0] == os.uname().nodename

        second = start_up(bed, config, tmp_path / "second.log")
        wait_until(lambda: "waiting: another" in (tmp_path / "second.log").read_text(), 60, what="the second to wait")
        said = " ".join((tmp_path / "second.log").read_text().split())
        assert f"waiting: another `kfbootstrap up` holds the lock: {me} (taken " in said
        assert "renewed" in said and "waiting up to 10m00s for it (--wait-lock)" in said

        # --wait-lock 0: exit 1 at once, naming the holder; nothing changed.
        began = time.monotonic()
        third = start_up(bed, config, tmp_path / "third.log", "--wait-lock", "0")
        assert finish(third, 60) == 1
        refused = " ".join((tmp_path / "third.log").read_text().split())
        assert f"error: another `kfbootstrap up` is running against this cluster: {me} (taken " in refused
        assert f"holds the lock Lease {NAMESPACE}/{NAME}" in refused and "--wait-lock" in refused
        assert time.monotonic() - began < 45 and holder(bed) == me

        # The holder renews it while it works.
        renewed = spec["renewTime"]
        wait_until(lambda: lease(bed)["spec"]["renewTime"] != renewed, 30, what="a renewal of the lock")
        assert first.poll() is None and second.poll() is None

        bed.kubectl("label", "node", "--all", f"{LABEL}=first")  # the first run's Deployment can start now
        assert finish(first) == 0, (tmp_path / "first.log").read_text()
        first_done = time.monotonic()
        assert finish(second) == 0, (tmp_path / "second.log").read_text()
        assert time.monotonic() >= first_done
    finally:
        for proc in (first, second, third):
            if proc is not None and proc.poll() is None:
                proc.kill()
        bed.kubectl("label", "node", "--all", f"{LABEL}-", check=False)

    first_log, second_log = (tmp_path / "first.log").read_text(), (tmp_path / "second.log").read_text()
    assert "✓ Take the up lock (Lease kube-system/kfbootstrap-up)" in first_log
    # The second took the lock only once the first had let go, then found everything done.
    assert "✓ Take the up lock (Lease kube-system/kfbootstrap-up)" in second_log
    assert "Install Kubeflow manifests (already done)" in second_log
    assert "Traceback" not in first_log + second_log
    assert holder(bed) is None  # released, the Lease itself stays
    state = json.loads(bed.kubectl("get", "configmap", "kfbootstrap-state", "-n", "kube-system", "-o", "json").stdout)
    assert json.loads(state["data"]["kubeflow"])["objects"] == 2


def test_ctrl_c_releases_the_lock(bed, tmp_path):
    config = write_config(tmp_path, "never")
    proc = start_up(bed, config, tmp_path / "up.log")
    try:
        wait_until(lambda: (holder(bed) or "").endswith(f":{proc.pid}"), 60, what="the lock")
        wait_until(lambda: "Wait until every workload is ready" in (tmp_path / "up.log").read_text(), 60, what="wait")
        proc.send_signal(signal.SIGINT)
        assert finish(proc, 30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert holder(bed) is None, (tmp_path / "up.log").read_text()


def test_a_stale_lock_is_taken_over_with_a_line_saying_so(bed, tmp_path, monkeypatch, capsys):
    now = datetime.now(timezone.utc)
    gone = "someone@elsewhere.example:4242"
    bed.apply(
        [
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": NAME, "namespace": NAMESPACE},
                "spec": {
                    "holderIdentity": gone,
                    "acquireTime": micro_time(now - timedelta(minutes=12)),
                    "renewTime": micro_time(now - timedelta(minutes=10)),
                    "leaseDurationSeconds": DURATION,
                    "leaseTransitions": 3,
                },
            }
        ]
    )
    config = tmp_path / "kfbootstrap.yaml"
    config.write_text(
        yaml.safe_dump({"components": {name: False for name in components.names()}, "forwards": {"auto": False}})
    )
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    began = time.monotonic()
    result = run_cli(capsys, "up", "--context", bed.context, "--config", config)
    assert result.code == 0, result.text
    assert time.monotonic() - began < 30  # taken over at once, not after a wait
    said = " ".join(result.err.split())
    assert f"warning: taking over the up lock from {gone}: not renewed for 10m" in said
    assert "✓ Take the up lock (Lease kube-system/kfbootstrap-up)" in result.err
    spec = lease(bed)["spec"]
    assert spec.get("holderIdentity") is None and spec["leaseTransitions"] == 4
