"""The Kubernetes adapter's contract: our own errors naming verb, object and context, and bounded time.

The servers here are real sockets on 127.0.0.1: one that accepts and never answers,
and a port nobody listens on (tests/conftest.py's silent_server). No cluster is needed to prove the timeouts.
"""

from __future__ import annotations

import socket
import time

import pytest

from kfbootstrap.kube.api import SECRETS, SERVICES, Kube
from kfbootstrap.kube.errors import (
    Conflict,
    Forbidden,
    KubeError,
    NotFound,
    TimedOut,
    Unauthorized,
    Unreachable,
    error_for,
)
from kfbootstrap.kube.rest import Timeouts
from kfbootstrap.kube.workloads import workload_from


@pytest.fixture
def adapter(tmp_path):
    """The adapter as a run builds it (kube.client.connect), from a kubeconfig whose server is 127.0.0.1:<port>."""
    import yaml

    def build(port: int, read: float = 1.0) -> Kube:
        kubeconfig = tmp_path / f"kubeconfig-{port}"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "kind-test",
                    "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "kind-test", "context": {"cluster": "c", "user": "u"}}],
                }
            )
        )
        from kfbootstrap.kube.client import connect

        return connect("kind-test", Timeouts(connect=1.0, read=read), str(kubeconfig))

    return build


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_never_answers_fails_in_bounded_time_naming_the_server(silent_server, adapter):
    kube = adapter(silent_server, read=1.0)
    started = time.monotonic()
    with pytest.raises(TimedOut) as raised:
        kube.get(SECRETS, "grafana", "monitoring")
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"one read timeout of 1s took {elapsed:.1f}s (retried reads?)"
    message = raised.value.message
    assert message.startswith("cannot get Secret monitoring/grafana (kube context kind-test)")
    assert f"http://127.0.0.1:{silent_server}" in message and "did not answer in time" in message
    assert f"http://127.0.0.1:{silent_server}" in raised.value.hint


def test_a_watch_on_a_silent_server_ends_at_its_deadline_with_the_error(silent_server, adapter):
    kube = adapter(silent_server, read=1.0)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        list(kube.watch(SERVICES, "kubeflow", deadline=time.monotonic() + 3))
    assert time.monotonic() - started < 8


def test_nobody_listening_is_unreachable_with_the_address_to_check(adapter):
    port = closed_port()
    with pytest.raises(Unreachable) as raised:
        adapter(port).list(SERVICES, "kubeflow")
    assert raised.value.message.startswith("cannot list services in namespace kubeflow (kube context kind-test)")
    assert f"127.0.0.1:{port}" in raised.value.hint and "cluster-info" in raised.value.hint


@pytest.mark.parametrize(
    "status, kind, hint_has",
    [
        (403, Forbidden, "kubectl --context ctx auth can-i get secrets -n monitoring"),
        (401, Unauthorized, "credentials of context ctx were refused"),
        (404, NotFound, "get --raw /readyz"),
        (409, Conflict, "get --raw /readyz"),
        (500, KubeError, "get --raw /readyz"),
    ],
)
def test_each_refusal_becomes_our_type_with_verb_object_context_and_hint(status, kind, hint_has):
    error = error_for(
        verb="get",
        what="Secret monitoring/grafana",
        context="ctx",
        server="https://127.0.0.1:6443",
        status=status,
        message="nope",
        resource="secrets",
        namespace="monitoring",
    )
    assert type(error) is kind
    assert error.message.startswith("cannot get Secret monitoring/grafana (kube context ctx)")
    assert hint_has in error.hint
    assert error.exit_code == 1


def deployment(generation: int, observed: int | None, replicas: int, updated: int, ready: int, total: int) -> dict:
    status = {"replicas": total, "updatedReplicas": updated, "readyReplicas": ready}
    if observed is not None:
        status["observedGeneration"] = observed
    return {
        "metadata": {"name": "web", "namespace": "kubeflow", "generation": generation},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": "web:2"}]}}},
        "status": status,
    }


@pytest.mark.parametrize(
    "obj, ready",
    [
        (deployment(1, 1, 1, 1, 1, 1), True),
        (deployment(2, None, 1, 1, 1, 1), False),  # the controller has not written observedGeneration yet
        (deployment(2, 1, 1, 1, 1, 1), False),  # it has not seen the new spec
        (deployment(2, 2, 1, 1, 1, 2), False),  # mid-rollout: the old pod is ready, the new one is not
        (deployment(2, 2, 2, 1, 2, 2), False),  # one of two replicas still runs the old spec
    ],
)
def test_up_and_status_judge_a_workload_the_same(obj, ready):
    """`status` (access.status.collect) and `up`'s wait (readiness) read the same Workload."""
    from kfbootstrap.access.status import collect
    from kfbootstrap.config import Config
    from kfbootstrap.components import Scope
    from kfbootstrap.kube.readiness import _apply_event

    workload = workload_from("deployment", obj)
    assert workload.is_ready is ready
    state: dict = {}
    from kfbootstrap.kube.api import Event

    _apply_event(("deployment", Event("SYNC", {}, (obj,))), state, set(), [Scope("kubeflow")])
    assert [w.is_ready for w in state.values()] == [ready]
    kubeflow = next(c for c in collect(Config(), [workload]) if c.name == "kubeflow")
    assert kubeflow.state == ("ready" if ready else "not ready")
