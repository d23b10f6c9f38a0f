"""`up`'s readiness deadline on the real control plane: workloads that share a cause are one line.

The scheduler's own FailedScheduling messages are the shared cause here: three Deployments
ask for a node label no node has (one message for all three), one asks for more CPU than
any node has (its own message). kwok runs every pod that is scheduled, so the healthy one
becomes ready and stays out of the report.
"""

from __future__ import annotations

import pytest

from kfbootstrap import logsetup, paths
from kfbootstrap.components import Scope
from kfbootstrap.config import load_config
from kfbootstrap.context import RunContext
from kfbootstrap.steps.wait import WorkloadsNotReady, wait_or_explain
from kfbootstrap.tools.runner import ShRunner
from tests.integration.test_addons import use_testbed_kubeconfig


def deployment(namespace: str, name: str, **pod_spec) -> dict:
    container = {"name": "main", "image": "registry.example/app:1", **pod_spec.pop("container", {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container], **pod_spec}},
        },
    }


def test_workloads_not_scheduled_for_one_reason_are_one_line_and_the_log_has_the_whole_table(
    testbed, namespace, capsys, monkeypatch
):
    nowhere = {"nodeSelector": {"kfbootstrap.test/no-such-node": "true"}}
    testbed.apply(
        [
            deployment(namespace, "healthy"),
            *(deployment(namespace, name, **nowhere) for name in ("api-server", "mysql", "workflow-controller")),
            deployment(namespace, "greedy", container={"resources": {"requests": {"cpu": "9000"}}}),
        ]
    )
    logsetup.setup_logging(False)  # the CLI does this first; the complete table goes to this file
    config = load_config(None, {"cluster.context": testbed.context, "timeouts.ready": 8}, env={}).config
    use_testbed_kubeconfig(testbed, monkeypatch)
    with pytest.raises(WorkloadsNotReady) as raised:
        wait_or_explain(RunContext(config=config, runner=ShRunner()), [Scope(namespace)], what="the test")
    shown = capsys.readouterr().err
    flat = " ".join(shown.split())

    cause = "not scheduled: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    assert f"3 workloads: {cause}" in flat, shown
    assert f"{namespace}/api-server, {namespace}/mysql, {namespace}/workflow-controller" in flat
    assert "hint: no node matches their node selector or affinity" in flat
    log_file = str(paths.log_file())
    assert f"the complete table is in {log_file}" in flat
    # The per-workload table has only the workload with its own reason.
    assert "deployment/greedy" in shown and "Insufficient cpu" in flat
    assert not any(f"deployment/{name}" in shown for name in ("api-server", "mysql", "workflow-controller", "healthy"))

    message = raised.value.message
    assert message.startswith(
        f"4 of 5 workloads of the test not ready after 8s: 3 × {cause}, {namespace}/greedy (Pending)"
    )
    assert log_file in raised.value.hint

    logged = paths.log_file().read_text(encoding="utf-8")
    table = logged[logged.rindex("Not ready: the test (complete)") :]
    assert all(f"deployment/{name}" in table for name in ("api-server", "mysql", "workflow-controller", "greedy"))
