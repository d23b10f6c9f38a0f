"""`expose` against the real control plane: background forwards that follow pod restarts.

The "pod" is a kwok pod behind a Deployment and a Service; kwok's ClusterPortForward
routes port-forwards to any pod of the test namespace to an HTTP server this test
runs, so a request succeeds only if the forward opened a stream to a pod that exists.
Deleting the pod makes the old name 404 at the API server: the forward must move to
the Deployment's replacement on its own.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from kfbootstrap.access import forwards
from tests.cli_helpers import run_cli
from tests.token_server import TokenServer, get_over_socket
from tests.testbed.cluster import free_ports, wait_until

REQUESTS = 200
PACE = 0.05  # seconds between requests: 200 requests span ~10 s, long enough for two pod restarts
DELETE_AT = (60, 130)


def http_get(port: int, timeout: float = 10.0) -> bytes:
    """GET / through the forward on a local port."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        return get_over_socket(sock)


def web_app(testbed, namespace: str, service: str = "web", service_port: int = 80) -> None:
    """A Deployment whose container port is *named* (so the forward must resolve targetPort) and its Service."""
    labels = {"app": "web"}
    testbed.apply(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "registry.invalid/web:1",
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                }
                            ]
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": service_port, "targetPort": "http"}]},
            },
        ],
        namespace=namespace,
    )
    testbed.kubectl("wait", "-n", namespace, "--for=condition=Available", "--timeout=60s", "deployment/web", timeout=90)


def ready_pods(testbed, namespace: str) -> list[str]:
    pods = json.loads(testbed.kubectl("get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout)["items"]
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    )


@pytest.fixture
def kube_env(testbed, monkeypatch):
    """Point kfbootstrap (and the daemons it starts) at the testbed."""
    monkeypatch.setenv("KUBECONFIG", testbed.kubeconfig)
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", testbed.context)
    yield
    forwards.stop_all()


@pytest.fixture
def served(testbed, namespace):
    """The token server, reachable through port-forwards to any pod of the test namespace."""
    with TokenServer() as server, testbed.cluster_port_forward(server.port, namespace=namespace, ports=[8080]):
        yield server


def start_forward(testbed, namespace: str, port: int, target: str = "web") -> forwards.ForwardRecord:
    spec = forwards.ForwardSpec(
        target=target,
        address="127.0.0.1",
        port=port,
        namespace=namespace,
        services=["web"],
        remote_port=80,
        context=testbed.context,
        kubeconfig=testbed.kubeconfig,
    )
    return forwards.start_background(spec)


def test_background_forward_survives_two_pod_deletions(testbed, namespace, kube_env, served):
    web_app(testbed, namespace)
    (port,) = free_ports(1)
    record = start_forward(testbed, namespace, port)
    first_pod = ready_pods(testbed, namespace)[0]
    # kwok learns of the ClusterPortForward through a watch: wait until the path works end to end.
    wait_until(lambda: _ok(port), 30, what="first request through the forward")

    results: list[tuple[float, bool]] = []
    deleted: list[str] = []
    began = time.monotonic()
    for number in range(REQUESTS):
        if number in DELETE_AT:
            victim = wait_until(lambda: ready_pods(testbed, namespace), 30, what="a ready pod to delete")[0]
            testbed.kubectl("delete", "pod", "-n", namespace, victim, "--wait=false")
            deleted.append(victim)
        sent = time.monotonic()
        results.append((sent, _ok(port)))
        time.sleep(max(0.0, PACE - (time.monotonic() - sent)))
    elapsed = time.monotonic() - began

    successes = [t for t, ok in results if ok]
    gaps = [b - a for a, b in zip(successes, successes[1:])]
    rate = len(successes) / REQUESTS
    longest = max(gaps) if gaps else float("inf")
    final_pods = ready_pods(testbed, namespace)
    status = json.loads(record.spec.status_path().read_text()) if record.spec.status_path().exists() else {}
    print(
        f"\nforward resilience: {len(successes)}/{REQUESTS} ok ({rate:.1%}), longest gap between successes "
        f"{longest:.2f}s, {elapsed:.1f}s total, pods deleted {deleted}, now {final_pods}, "
        f"daemon last pod {status.get('last_pod')}"
    )

    assert len(deleted) == 2 and deleted[0] == first_pod and deleted[1] != first_pod  # the replacement died too
    assert rate >= 0.99
    assert longest < 5.0
    assert served.hits >= len(successes)
    # The forward is still healthy and now streams to the second replacement.
    wait_until(lambda: forwards.health(record).ok, 15, what="healthy heartbeat")
    assert _ok(port)
    # The daemon writes which pod it streamed to with its next heartbeat, a moment after the request.
    wait_until(lambda: forwards.health(record).status.get("last_pod") in final_pods, 15, what="last pod recorded")


def _ok(port: int) -> bool:
    try:
        return http_get(port, timeout=10) is not None
    except (OSError, AssertionError):
        return False


def test_new_connection_waits_for_a_pod_instead_of_failing(testbed, namespace, kube_env, served):
    """Scaled to zero then back: a connection made meanwhile is held until a pod is ready."""
    web_app(testbed, namespace)
    (port,) = free_ports(1)
    start_forward(testbed, namespace, port)
    wait_until(lambda: _ok(port), 30, what="first request through the forward")
    testbed.kubectl("scale", "deployment/web", "-n", namespace, "--replicas=0")
    wait_until(lambda: not ready_pods(testbed, namespace), 30, what="no ready pod")

    outcome: dict[str, object] = {}

    def request() -> None:
        began = time.monotonic()
        outcome["ok"] = _get_with_timeout(port, 30)
        outcome["seconds"] = time.monotonic() - began

    worker = threading.Thread(target=request)
    worker.start()
    time.sleep(2)
    assert worker.is_alive(), "the connection should wait for a pod, not fail"
    testbed.kubectl("scale", "deployment/web", "-n", namespace, "--replicas=1")
    worker.join(40)
    assert outcome.get("ok") is True and outcome["seconds"] >= 2


def _get_with_timeout(port: int, timeout: float) -> bool:
    try:
        return http_get(port, timeout=timeout) is not None
    except (OSError, AssertionError):
        return False


def test_expose_cli_background_list_and_stop(testbed, namespace, kube_env, served, capsys):
    web_app(testbed, namespace, service="grafana")
    (port,) = free_ports(1)

    started = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", port, "--background", "--json")
    assert started.code == 0, started.text
    (row,) = json.loads(started.out)
    assert row["target"] == "grafana" and row["url"] == f"http://127.0.0.1:{port}/" and row["started"] is True
    assert forwards.process_alive(row["pid"])
    wait_until(lambda: _ok(port), 30, what="request through the CLI-started forward")

    again = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", port, "--background", "--json")
    assert again.code == 0 and json.loads(again.out)[0] == {**row, "started": False}  # not started twice

    def listed():
        result = run_cli(capsys, "expose", "--list", "--json")
        entry = json.loads(result.out)[0]
        return entry if entry["health"] == "running" else None

    entry = wait_until(listed, 15, what="expose --list to report the forward running")
    assert (entry["target"], entry["pid"], entry["port"]) == ("grafana", row["pid"], port)
    assert entry["detail"].startswith("1 ready pod")

    table = run_cli(capsys, "expose", "--list")
    assert "grafana" in table.out and "running" in table.out

    stopped = run_cli(capsys, "expose", "--stop", "grafana")
    assert stopped.code == 0, stopped.text
    assert not forwards.process_alive(row["pid"]) and forwards.read_records() == []
    assert not _ok(port)
    missing = run_cli(capsys, "expose", "--stop", "grafana")
    assert missing.code == 1 and "no background forward for grafana" in missing.err


def test_expose_on_another_port_refuses_without_replace_and_says_what_it_replaced(
    testbed, namespace, kube_env, served, capsys
):
    web_app(testbed, namespace, service="grafana")
    old_port, new_port, foreground_port = free_ports(3)
    started = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", old_port, "--background", "--json")
    assert started.code == 0, started.text
    old_pid = json.loads(started.out)[0]["pid"]
    wait_until(lambda: _ok(old_port), 30, what="request through the first forward")

    # Background first: a foreground forward that were not refused would serve until Ctrl-C.
    for extra in (["--background"], []):
        refused = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", new_port, *extra)
        assert refused.code == 2, refused.text
        assert (
            f"grafana is already forwarded on 127.0.0.1:{old_port} by a background forward (pid {old_pid}); "
            f"pass --replace to replace it with 127.0.0.1:{new_port}"
        ) in refused.err
        assert f"expose grafana --port {new_port}{' --background' if extra else ''} --replace" in refused.err
    assert forwards.process_alive(old_pid) and _ok(old_port)  # refused: nothing changed
    assert forwards.find_record("grafana").spec.port == old_port

    replaced = run_cli(
        capsys, "expose", "grafana", "-n", namespace, "--port", new_port, "--background", "--replace", "--json"
    )
    assert replaced.code == 0, replaced.text
    new_pid = json.loads(replaced.out)[0]["pid"]
    assert (
        f"replaced: the forward of grafana on 127.0.0.1:{old_port} (pid {old_pid}) is now on "
        f"127.0.0.1:{new_port} (pid {new_pid})"
    ) in replaced.err
    assert not forwards.process_alive(old_pid) and forwards.find_record("grafana").spec.port == new_port
    wait_until(lambda: _ok(new_port), 30, what="request through the replacing forward")
    assert not _ok(old_port)

    # The same forward again is no replacement: nothing to say, nothing restarted.
    again = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", new_port, "--background", "--replace")
    assert again.code == 0 and "replaced" not in again.err and "already running" in again.err
    assert forwards.find_record("grafana").pid == new_pid

    # A foreground forward with --replace: the background one makes way, and the line says so.
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "kfbootstrap", "expose", "grafana", "-n", namespace, "--port", str(foreground_port)]
        + ["--replace"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_until(lambda: _ok(foreground_port) or proc.poll() is not None, 30, what="the foreground forward")
        assert proc.poll() is None and not forwards.process_alive(new_pid)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert (
        f"replaced: stopped the background forward of grafana on 127.0.0.1:{new_port} (pid {new_pid}); "
        f"it is forwarded on 127.0.0.1:{foreground_port} in the foreground now"
    ) in " ".join(err.split()), err
    assert forwards.read_records() == []


def test_taken_port_names_its_holder(testbed, namespace, kube_env, capsys):
    web_app(testbed, namespace, service="grafana")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", port, "--background")
    assert result.code == 1
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()}" in result.err
    assert "Traceback" not in result.text

    (port,) = free_ports(1)
    assert run_cli(capsys, "expose", "grafana", "-n", namespace, "--port", port, "--background").code == 0
    testbed.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "prometheus-server"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
            }
        ],
        namespace=namespace,
    )
    clash = run_cli(capsys, "expose", "prometheus", "-n", namespace, "--port", port, "--background")
    assert clash.code == 1
    assert "kfbootstrap's background forward for grafana" in clash.err
    assert "kfbootstrap expose --stop grafana" in clash.err


def test_missing_service_is_a_clear_error(testbed, namespace, kube_env, capsys):
    result = run_cli(capsys, "expose", "minio", "-n", namespace, "--background")
    assert result.code == 1
    assert f"svc/seaweedfs or svc/minio-service not found in namespace {namespace}" in result.err
    assert forwards.read_records() == []


def test_non_loopback_address_needs_the_flag(testbed, namespace, kube_env, served, tmp_path, monkeypatch, capsys):
    web_app(testbed, namespace, service="grafana")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kfbootstrap.yaml").write_text("forwards:\n  address: 0.0.0.0\n")
    refused = run_cli(capsys, "expose", "grafana", "-n", namespace, "--background")
    assert refused.code == 2
    assert "expose the platform to your network" in refused.err and "--address 0.0.0.0" in refused.err

    (port,) = free_ports(1)
    allowed = run_cli(
        capsys, "expose", "grafana", "-n", namespace, "--background", "--port", port, "--address", "0.0.0.0"
    )
    assert allowed.code == 0, allowed.text
    assert "warning:" in allowed.err and "anyone who can reach this machine" in allowed.err
    assert forwards.find_record("grafana").spec.address == "0.0.0.0"
    wait_until(lambda: _ok(port), 30, what="request through the 0.0.0.0 forward")


def test_unreachable_pod_is_skipped_and_the_request_replayed(testbed, namespace, kube_env):
    """Two ready pods, one whose port refuses connections (kubelet-side 'dial' error): every request
    still succeeds, because bytes sent to the refusing pod are replayed on the other one."""
    labels = {"app": "web"}
    testbed.apply(
        [
            *(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "registry.invalid/web:1",
                                "ports": [{"name": "http", "containerPort": 8080}],
                            }
                        ]
                    },
                }
                for name in ("refuses", "serves")
            ),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
            },
        ],
        namespace=namespace,
    )
    testbed.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", "pod/refuses", "pod/serves")
    closed_port, port = free_ports(2)  # distinct: nothing listens on closed_port, the forward on port
    # Not the `served` fixture: its namespace-wide ClusterPortForward would also route the refusing pod.
    with (
        TokenServer() as server,
        testbed.cluster_port_forward(closed_port, namespace=namespace, pod="refuses", ports=[8080]),
        testbed.cluster_port_forward(server.port, namespace=namespace, pod="serves", ports=[8080]),
    ):
        record = start_forward(testbed, namespace, port)
        wait_until(lambda: _ok(port), 30, what="first request through the forward")
        wait_until(
            lambda: sorted(forwards.health(record).ready_pods) == ["refuses", "serves"],
            20,
            what="both pods listed as ready",
        )
        results = [_ok(port) for _ in range(20)]
    assert all(results), results
    log = open(record.log).read()
    assert "pod refuses was not reachable" in log and "replaying on another pod" in log


def test_foreground_expose_serves_until_ctrl_c(testbed, namespace, kube_env, served):
    import signal
    import subprocess
    import sys

    web_app(testbed, namespace, service="grafana")
    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kfbootstrap", "expose", "grafana", "-n", namespace, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # faulthandler: should Ctrl-C ever hang, SIGABRT below prints where every thread was
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        # A run started in the background of a script inherits SIGINT ignored, and Python then
        # (rightly) keeps ignoring it; a user at a terminal has it at its default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_until(lambda: _ok(port) or proc.poll() is not None, 30, what="the foreground forward")
        assert proc.poll() is None and _ok(port)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, dump = proc.communicate(timeout=15)
            pytest.fail(f"expose did not stop within 15 s of Ctrl-C; its threads:\n{dump}", pytrace=False)
    assert proc.returncode == 130, err  # docs/exit-codes.md: Ctrl-C exits 130, foreground expose included
    assert f"grafana         http://127.0.0.1:{port}/  ->  svc/grafana:80 in {namespace}" in out
    assert "Press Ctrl-C to stop" in err and "error: interrupted" in err and "the forward stopped" in err
    assert "Traceback" not in err
    assert forwards.read_records() == []  # a foreground forward leaves no record behind
