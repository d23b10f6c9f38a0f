"""The adapter's seams on a real control plane: RBAC refusals name the step, and `up` and `status`
judge a rollout the same way.

The restricted user is a ServiceAccount with no role at all, reached through its own
context in a copy of the testbed's kubeconfig: exactly a user on a cluster they do not own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from kfbootstrap import components
from tests.cli_helpers import run_cli
from tests.integration.test_addons import DockerFakingRunner, use_testbed_kubeconfig, write_config
from tests.testbed.cluster import helm_binaries, wait_until

RESTRICTED = "kfb-restricted"


@pytest.fixture
def restricted_context(testbed, namespace, tmp_path, monkeypatch):
    """KUBECONFIG with the testbed's contexts plus RESTRICTED, a ServiceAccount bound to nothing.

    The shared testbed is enough (nothing gets installed: every request is refused); docker is faked."""
    use_testbed_kubeconfig(testbed, monkeypatch)
    runner = DockerFakingRunner()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    testbed.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = testbed.kubectl("create", "token", "nobody", "-n", namespace, "--duration", "1h").stdout.strip()
    kubeconfig = yaml.safe_load(Path(testbed.kubeconfig).read_text())
    cluster = next(c for c in kubeconfig["contexts"] if c["name"] == testbed.context)["context"]["cluster"]
    kubeconfig["users"].append({"name": RESTRICTED, "user": {"token": token}})
    kubeconfig["contexts"].append({"name": RESTRICTED, "context": {"cluster": cluster, "user": RESTRICTED}})
    path = tmp_path / "kubeconfig-restricted"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return RESTRICTED


ONLY = {name: False for name in components.names()}


@pytest.mark.parametrize(
    "component, step, refused",
    [
        ("object_store", "find the pipelines' object store", "cannot get Service kubeflow/minio-service"),
        ("model_registry", "install the model registry", "cannot get ConfigMap kube-system/kfbootstrap-state"),
    ],
)
def test_a_user_whose_rbac_forbids_reading_a_steps_objects_gets_exit_1_and_the_step_named(
    testbed, restricted_context, tmp_path, capsys, component, step, refused
):
    helm = helm_binaries(testbed.bin_dir)["helm3"]  # never reached: the refusal comes first
    config = write_config(tmp_path, helm, components={**ONLY, component: True})
    result = run_cli(capsys, "up", "--context", restricted_context, "--config", str(config))
    assert result.code == 1, result.text
    error = next(line for line in result.err.splitlines() if line.startswith("error: "))
    assert error.startswith(f"error: {step}: {refused} (kube context {RESTRICTED}): forbidden"), result.err
    hint = next(line for line in result.err.splitlines() if line.startswith("hint: "))
    assert f"kubectl --context {RESTRICTED} auth can-i get" in hint and "RBAC" in hint
    assert "Traceback" not in result.text and "bug" not in result.text
    assert f"✗ {step[0].upper()}{step[1:]}" in result.err
    # Leases in kube-system are forbidden to this user too: `up` goes on without its lock, and says so.
    assert "warning: running without the up lock: cannot get Lease kube-system/kfbootstrap-up" in result.err


def test_status_names_the_refusal_and_the_context_instead_of_a_bug(testbed, restricted_context, capsys):
    result = run_cli(capsys, "status", "--context", restricted_context)
    assert result.code == 1, result.text
    assert f"error: cannot list deployments in all namespaces (kube context {RESTRICTED}): forbidden" in result.err
    assert "auth can-i list deployments" in result.err
    assert "Traceback" not in result.text and "bug" not in result.text


@pytest.mark.parametrize(
    "argv, refused, check",
    [
        (["creds", "grafana"], "cannot get Secret monitoring/grafana", "get secrets -n monitoring"),
        (["expose", "grafana"], "cannot get Service monitoring/", "get services -n monitoring"),
        (["passwd", "--from-env", "NEW_KF_PW"], "cannot get Deployment auth/dex", "get deployments -n auth"),
    ],
    ids=["creds", "expose", "passwd"],
)
def test_the_commands_beyond_up_name_a_refusal_too(
    testbed, restricted_context, monkeypatch, capsys, argv, refused, check
):
    """creds, expose and passwd read through the adapter as `up` does: the same error, context and RBAC hint."""
    monkeypatch.setenv("NEW_KF_PW", "a-long-enough-password")
    result = run_cli(capsys, *argv, "--context", restricted_context)
    assert result.code == 1, result.text
    error = next(line for line in result.err.splitlines() if line.startswith("error: "))
    assert error.startswith(f"error: {refused}") and f"(kube context {RESTRICTED}): forbidden" in error, result.err
    assert f"kubectl --context {RESTRICTED} auth can-i {check}" in result.err
    assert "Traceback" not in result.text and "bug" not in result.text


def test_a_deployment_mid_rollout_is_judged_the_same_by_up_and_status(testbed, namespace, monkeypatch, capsys):
    """The old pod stays ready while the new one cannot be scheduled: neither `up` nor `status` calls it ready."""
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.kube import readiness
    from kfbootstrap.components import Scope
    from kfbootstrap.kube.workloads import list_workloads
    from kfbootstrap.tools.runner import ShRunner

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "registry.example/web:1"}]},
            },
        },
    }
    testbed.apply([deployment])
    use_testbed_kubeconfig(testbed, monkeypatch)
    config = load_config(None, {"cluster.context": testbed.context, "timeouts.ready": 3}, env={}).config
    ctx = RunContext(config=config, runner=ShRunner())

    def judged() -> tuple[bool, bool]:
        mine = [w for w in list_workloads(ctx.kube) if w.namespace == namespace]  # what `status` reads
        waited = readiness.wait_ready(ctx.kube, [Scope(namespace)], 3)  # what `up` waits on
        assert [w.name for w in mine] == ["web"] and [w.name for w in waited.workloads] == ["web"]
        return mine[0].is_ready, waited.ok

    wait_until(lambda: judged() == (True, True), 60, what="the first rollout ready for both")
    testbed.kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd-nowhere"}}}}}),
    )

    def stuck() -> bool:
        live = json.loads(testbed.kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
        status = live.get("status") or {}
        return (
            status.get("observedGeneration") == 2 and status.get("replicas") == 2 and status.get("readyReplicas") == 1
        )

    wait_until(stuck, 60, what="the rollout stuck with the old pod ready")
    time.sleep(0.5)
    assert judged() == (False, False)
