"""Pure logic of expose/creds/status: targets, endpoint selection, relay replay, records, status rows, CLI usage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kfbootstrap.access import forwards
from kfbootstrap.access.creds import DEX_DEFAULT_HASHES, is_default_password
from kfbootstrap.access.status import collect
from kfbootstrap.access.summary import rows
from kfbootstrap.access.targets import TARGETS, get_target, is_loopback, namespace_for, service_candidates, url
from kfbootstrap.config import load_config
from kfbootstrap.errors import UsageError
from kfbootstrap.kube.endpoints import Backend, ServiceBackends, backends_from_pods, backends_from_slices
from kfbootstrap.kube.portforward import _DONE, _RETRY, _pump
from kfbootstrap.kube.workloads import Workload, image_tag
from tests.cli_helpers import run_cli


def config(**env: str):
    return load_config(env={f"KFBOOTSTRAP_{k}": v for k, v in env.items()}, cwd=Path(__file__).parent).config


# ------------------------------------------------------------------------------ targets


def test_targets_match_the_makefile_forwards():
    expected = {
        "kubeflow": ("istio-system", "istio-ingressgateway", 80, 8080),
        "grafana": ("monitoring", "grafana", 80, 3000),
        "prometheus": ("monitoring", "prometheus-server", 80, 9090),
        "model-registry": ("kubeflow", "model-registry-service", 8080, 8081),
        "minio": ("kubeflow", "minio-service", 9000, 9000),
    }
    cfg = config()
    for name, (namespace, service, remote, local) in expected.items():
        target = TARGETS[name]
        assert (target.namespace, target.services[0], target.remote_port) == (namespace, service, remote)
        assert getattr(cfg.forwards.ports, target.port_key) == local


@pytest.mark.parametrize("name", ["grafana", "model-registry", "model_registry"])
def test_get_target_accepts_both_spellings(name):
    assert get_target(name).name == name.replace("_", "-")


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        get_target("jupyter")
    assert "kubeflow, prometheus, grafana, model-registry, minio" in info.value.hint


@pytest.mark.parametrize(
    "release,first",
    [("26.03.1", "seaweedfs"), ("26.03", "seaweedfs"), ("v1.11.0", "minio-service"), ("v1.10.2", "minio-service")],
)
def test_object_store_service_of_the_configured_release_is_tried_first(release, first):
    candidates = service_candidates(TARGETS["minio"], config(KUBEFLOW__VERSION=release))
    assert candidates[0] == first and set(candidates) == {"seaweedfs", "minio-service"}


@pytest.mark.parametrize(
    "address,loopback",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("not-an-ip", False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    "address,expected",
    [("127.0.0.1", "http://127.0.0.1:3000/"), ("0.0.0.0", "http://127.0.0.1:3000/"), ("::1", "http://[::1]:3000/")],
)
def test_url(address, expected):
    assert url(TARGETS["grafana"], address, 3000) == expected


# ------------------------------------------------------------------------------ endpoints


def endpoint(pod: str | None, ready=True, terminating=None, kind="Pod") -> dict:
    """An EndpointSlice endpoint as the API serves it (absent fields left out, as the server does)."""
    found: dict = {"addresses": ["10.0.0.1"]}
    if pod:
        found["targetRef"] = {"kind": kind, "name": pod}
    conditions = {key: value for key, value in (("ready", ready), ("terminating", terminating)) if value is not None}
    if conditions:
        found["conditions"] = conditions
    return found


def endpoint_slice(endpoints, ports) -> dict:
    return {
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": p, **({"name": n} if n is not None else {})} for n, p in ports],
    }


def test_slices_give_ready_pods_and_the_resolved_port_of_the_named_service_port():
    slices = [
        endpoint_slice(
            [
                endpoint("a"),
                endpoint("b", ready=False),
                endpoint("c", terminating=True),
                endpoint("d", ready=None),
                endpoint(None),
                endpoint("node", kind="Node"),
            ],
            [("http", 8080), ("metrics", 9090)],
        ),
        endpoint_slice([endpoint("a")], [("http", 8080)]),
    ]  # a pod listed twice counts once
    assert backends_from_slices(slices, "http") == [Backend("a", 8080), Backend("d", 8080)]
    assert backends_from_slices(slices, "metrics") == [Backend("a", 9090), Backend("d", 9090)]
    assert backends_from_slices(slices, "grpc") == []


def test_unnamed_service_port_matches_the_unnamed_slice_port():
    assert backends_from_slices([endpoint_slice([endpoint("a")], [(None, 3000)])], None) == [Backend("a", 3000)]


def pod(name: str, ready=True, deleting=False, ports=(("http", 8080),)) -> dict:
    meta = {"name": name, **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": p, "name": n} for n, p in ports]}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    "target_port,expected", [("http", 8080), (8443, 8443), ("8443", 8443), (None, 80), ("grpc", None)]
)
def test_selector_fallback_resolves_target_ports(target_port, expected):
    found = backends_from_pods([pod("a"), pod("b", ready=False), pod("c", deleting=True)], target_port, 80)
    assert found == ([Backend("a", expected)] if expected else [])


class ListedBackends(ServiceBackends):
    """ServiceBackends whose API listing is a script, to check picking, quarantine and rate limits."""

    def __init__(self, answers, **kwargs):
        super().__init__(None, "ns", ["svc"], 80, **kwargs)
        self.answers = list(answers)
        self.lists = 0

    def _list(self):
        self.lists += 1
        return self.answers[min(self.lists - 1, len(self.answers) - 1)]


def test_pick_round_robins_and_quarantines_a_failed_pod():
    backends = ListedBackends([[Backend("a", 1), Backend("b", 1)]], ttl=60)
    picked = {backends.pick().pod for _ in range(4)}
    assert picked == {"a", "b"} and backends.lists == 1  # cached within the ttl
    backends.mark_failed(Backend("a", 1))
    time.sleep(0.25)  # past min_interval: a failure makes the next pick list again
    assert [backends.pick().pod for _ in range(3)] == ["b", "b", "b"]
    assert backends.lists == 2


def test_pick_returns_none_when_every_pod_failed_and_forced_refresh_is_rate_limited():
    backends = ListedBackends([[Backend("a", 1)]], ttl=60, min_interval=10)
    backends.mark_failed(backends.pick())
    assert backends.pick() is None
    backends.refresh(force=True)
    backends.refresh(force=True)
    assert backends.lists == 1  # the second list is within min_interval of the first


# ------------------------------------------------------------------------------ relay


class SocketStream:
    """The shape of kubernetes.stream's PortForward over a socketpair whose far end a test drives."""

    def __init__(self, error: str | None = None):
        self.ours, self.pod = socket.socketpair()
        self._error = error
        self.closed = False

    def socket(self, port):
        return self.ours

    def error(self, port):
        return self._error

    def close(self):
        self.closed = True
        self.ours.close()


def relay_once(stream: SocketStream, pod_side, replay: bytearray):
    client, user = socket.socketpair()
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("r", _pump(client, stream, 80, replay)))
    worker.start()
    pod_side(stream.pod, user)
    worker.join(5)
    assert not worker.is_alive()
    return outcome["r"], user


def test_pump_asks_for_a_retry_when_the_pod_was_never_reached():
    replay = bytearray()

    def refuse(pod, user):
        user.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert pod.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
        pod.close()  # the kubelet closes the stream and reports the dial error

    stream = SocketStream(error="failed to dial 127.0.0.1:1: connect: connection refused")
    outcome, _ = relay_once(stream, refuse, replay)
    assert outcome == _RETRY and bytes(replay) == b"GET / HTTP/1.0\r\n\r\n" and stream.closed

    def serve(pod, user):
        assert pod.recv(100) == b"GET / HTTP/1.0\r\n\r\n"  # replayed, not re-sent by the client
        pod.sendall(b"HTTP/1.0 200 OK\r\n\r\nhi")
        assert user.recv(100) == b"HTTP/1.0 200 OK\r\n\r\nhi"
        user.close()

    outcome, _ = relay_once(SocketStream(), serve, replay)
    assert outcome == _DONE


def test_pump_retries_when_the_refusal_arrives_before_the_first_byte():
    """kubelet/kwok dial at once and close the stream on failure, often before the client writes."""
    replay = bytearray()

    def refuse_first(pod, user):
        pod.close()
        time.sleep(0.1)
        user.sendall(b"GET /")

    outcome, _ = relay_once(SocketStream(error="failed to dial 127.0.0.1:1: connection refused"), refuse_first, replay)
    assert outcome == _RETRY and bytes(replay) == b""  # the client's bytes are still unread: the next pod gets them

    stream = SocketStream(error="failed to dial 127.0.0.1:1: connection refused")
    stream.pod.close()
    replay = bytearray(b"GET /")  # already read from the client: the write to the closed stream fails
    client, _user = socket.socketpair()
    assert _pump(client, stream, 80, replay) == _RETRY and bytes(replay) == b"GET /"


@pytest.mark.parametrize("error", [None, "error copying: broken pipe"])
def test_pump_never_replays_after_the_pod_answered_or_for_other_errors(error):
    def answer_then_die(pod, user):
        user.sendall(b"POST /x")
        pod.recv(100)
        pod.sendall(b"HTTP/1.0 100")
        user.recv(100)
        pod.close()

    outcome, _ = relay_once(SocketStream(error="dial tcp: connection refused"), answer_then_die, bytearray())
    assert outcome == _DONE

    def die_silently(pod, user):
        user.sendall(b"POST /x")
        pod.recv(100)
        pod.close()

    outcome, _ = relay_once(SocketStream(error=error), die_silently, bytearray())
    assert outcome == _DONE


# ------------------------------------------------------------------------------ creds


@pytest.mark.parametrize(
    "stored,default",
    [
        (DEX_DEFAULT_HASHES[0], True),
        ("$2b$04$" + "a" * 53, False),
        ("12341234", True),  # a plain password stored by hand
        ("hunter2", False),
    ],
)
def test_default_dex_password_detection(stored, default):
    assert is_default_password(stored) is default


def test_default_dex_password_detection_with_bcrypt_hash_of_another_salt():
    import bcrypt

    assert is_default_password(bcrypt.hashpw(b"12341234", bcrypt.gensalt(4)).decode()) is True


# ------------------------------------------------------------------------------ status


def workload(name, namespace, ready=1, desired=1, image="x/y:v1", labels=None, kind="deployment"):
    return Workload(kind, namespace, name, ready, desired, (image,), labels or {})


@pytest.mark.parametrize(
    "release,dashboard,web_app",
    [("26.03", "centraldashboard", "kserve-models-web-app"), ("26.03.1", "dashboard", "kserve-models-web-application")],
)
def test_status_groups_workloads_by_component(release, dashboard, web_app):
    workloads = [
        workload(dashboard, "kubeflow", image="ghcr.io/kubeflow/central-dashboard:v1.10.0"),
        workload("kserve-controller-manager", "kubeflow", 0, 1, image="kserve/kserve-controller:v0.16.0"),
        workload(web_app, "kubeflow"),
        workload("istiod", "istio-system"),
        workload("seaweedfs", "kubeflow", image="chrislusf/seaweedfs@sha256:" + "ab" * 32),
        workload("prometheus-server", "monitoring", labels={"app.kubernetes.io/instance": "prometheus"}),
        workload("other", "monitoring"),
    ]
    cfg = config(COMPONENTS__METALLB="false", KUBEFLOW__VERSION=release)
    by_name = {c.name: c for c in collect(cfg, workloads, records=[])}
    assert (by_name["kubeflow"].ready, by_name["kubeflow"].total, by_name["kubeflow"].version) == (2, 2, "v1.10.0")
    assert by_name["kserve"].total == 2  # the models web app under this release's name belongs to KServe
    assert (by_name["kserve"].state, by_name["kserve"].not_ready) == (
        "not ready",
        ["kubeflow/deployment/kserve-controller-manager (0/1)"],
    )
    assert by_name["object_store"].version == "sha256:abababababab"
    assert (by_name["prometheus"].state, by_name["prometheus"].total) == ("ready", 1)
    assert (by_name["grafana"].state, by_name["metallb"].enabled) == ("missing", False)
    assert by_name["grafana"].forward["state"] == "none" and by_name["grafana"].url is None


@pytest.mark.parametrize(
    "release,namespace", [("26.03.1", "kubeflow-user-example-com"), ("26.03", "kubeflow"), ("v1.10.2", "kubeflow")]
)
def test_model_registry_is_found_where_the_release_puts_it(release, namespace):
    cfg = config(KUBEFLOW__VERSION=release)
    assert namespace_for(TARGETS["model-registry"], cfg) == namespace
    registry = [
        workload("model-registry-deployment", namespace, image="ghcr.io/kubeflow/hub/server:v0.3.9"),
        workload("model-registry-db", namespace),
        workload("model-registry-deployment", "elsewhere"),
    ]
    status = next(c for c in collect(cfg, registry, records=[]) if c.name == "model_registry")
    assert (status.total, status.version, status.version_from) == (
        2,
        "v0.3.9",
        f"{namespace}/deployment/model-registry-deployment",
    )


@pytest.mark.parametrize(
    "image,tag",
    [
        ("grafana/grafana:12.3.1", "12.3.1"),
        ("localhost:5000/app", "latest"),
        ("localhost:5000/app:v2", "v2"),
        ("a/b:v1@sha256:" + "0" * 64, "v1"),
        ("mysql", "latest"),
    ],
)
def test_image_tag(image, tag):
    assert image_tag(image) == tag


# ------------------------------------------------------------------------------ records and health


def spec(target="grafana", port=3000) -> forwards.ForwardSpec:
    return forwards.ForwardSpec(
        target=target,
        address="127.0.0.1",
        port=port,
        namespace="monitoring",
        services=["grafana"],
        remote_port=80,
        directory=str(forwards.forwards_dir()),
    )


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_record_roundtrip_and_a_dead_forward_is_reported_dead():
    record = forwards.ForwardRecord(
        spec(), pid=dead_pid(), started_at=1.0, log=str(forwards.forwards_dir() / "grafana.log")
    )
    forwards.write_json_atomically(record.spec.record_path(), record.to_json())
    (read,) = forwards.read_records()
    assert read == record
    assert forwards.health(read).state == "dead"
    forwards.stop_all()
    assert forwards.read_records() == []


def test_a_reused_pid_is_not_taken_for_our_forward():
    assert forwards.process_alive(os.getpid()) is False  # alive, but not kfbootstrap.access.daemon


def test_unreadable_records_are_skipped():
    directory = forwards.forwards_dir()
    directory.mkdir(parents=True)
    (directory / "broken.json").write_text("{not json")
    (directory / "partial.json").write_text(json.dumps({"target": "x"}))
    assert forwards.read_records() == []


def test_summary_rows_without_forwards_say_how_to_start_them():
    table = rows(config(COMPONENTS__GRAFANA="false"), records=[])
    assert [r["target"] for r in table] == ["kubeflow", "prometheus", "model-registry", "minio"]
    kubeflow = table[0]
    assert kubeflow == {
        "target": "kubeflow",
        "url": "http://127.0.0.1:8080/",
        "forward": "not started",
        "login": "kfbootstrap creds kubeflow",
        "expose": "kfbootstrap expose kubeflow --background",
    }
    assert table[1]["login"] == "no login needed"
    with_logins = rows(config(), [], logins={"grafana": "admin / pw"})
    assert next(r for r in with_logins if r["target"] == "grafana")["login"] == "admin / pw"


# ------------------------------------------------------------------------------ CLI usage


@pytest.mark.parametrize(
    "args,message",
    [
        (["expose"], "name one target, or pass --all"),
        (["expose", "grafana", "--all"], "name one target, or pass --all"),
        (["expose", "--all", "--port", "1234"], "--port and --namespace apply to one target"),
        (["expose", "--stop"], "--stop needs one target or --all"),
        (["expose", "--stop", "grafana", "--replace"], "--stop and --replace do not go together"),
        (["expose", "jupyter"], "unknown target 'jupyter'"),
        (["expose", "grafana", "--address", "not-an-ip"], "config key `forwards.address`"),
        (["creds"], "name a target"),
    ],
)
def test_usage_errors_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, *args)
    assert result.code == 2, result.text
    assert message in result.err and "Traceback" not in result.text


def test_expose_list_and_stop_all_with_nothing_running(capsys):
    listed = run_cli(capsys, "expose", "--list")
    assert listed.code == 0 and "No background forwards" in listed.out
    assert json.loads(run_cli(capsys, "expose", "--list", "--json").out) == []
    stopped = run_cli(capsys, "expose", "--stop", "--all")
    assert stopped.code == 0 and "stopped 0 forwards" in stopped.err


def test_up_plan_ends_with_forwards_unless_disabled(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: None)
    plan = run_cli(capsys, "up", "--dry-run")
    steps = [line for line in plan.out.splitlines() if line.startswith("  ") and ". " in line]
    assert plan.code == 0 and steps[-1].split(". ", 1)[1].startswith(
        "Start background port-forwards (kubeflow, prometheus, grafana, model-registry, minio)"
    )
    assert "port-forwards" not in run_cli(capsys, "up", "--dry-run", "--no-expose").out
    assert "port-forwards" not in run_cli(capsys, "up", "--dry-run", "--profile", "ci").out
