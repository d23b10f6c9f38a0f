"""Not-ready workloads grouped by cause (kfbootstrap/kube/causes.py, kfbootstrap/notready.py).

The pods are shaped as the API server returns them, with the kubelet's own messages:
ErrImagePull is the CRI's error (containerd: `failed to pull and unpack image …`), and
ImagePullBackOff wraps the last one as `Back-off pulling image "X": ErrImagePull: …`
(pkg/kubelet/images/image_manager.go); CreateContainerConfigError quotes the kubelet's
secret manager (`secret "x" not found`) or `couldn't find key K in Secret ns/x`;
FailedScheduling is the scheduler's condition message with its preemption postscript.
"""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from kfbootstrap import notready
from kfbootstrap.kube.causes import (
    CRASH,
    MISSING,
    PULL,
    SCHEDULING,
    group_by_cause,
    mount_cause,
    pod_cause,
    pull_failure,
)
from kfbootstrap.kube.readiness import Problem, problem_of
from kfbootstrap.kube.workloads import Workload

# 26 images of the pipelines profile's kind, from five registries.
IMAGES = [
    *(
        f"ghcr.io/kubeflow/kfp-{name}:2.15.0"
        for name in (
            "api-server",
            "frontend",
            "persistence-agent",
            "scheduled-workflow",
            "viewer-crd-controller",
            "visualization-server",
            "metadata-writer",
            "cache-server",
        )
    ),
    *(
        f"docker.io/kubeflow/{name}:v1.10.0"
        for name in ("centraldashboard", "profile-controller", "kfam", "poddefaults")
    ),
    "docker.io/library/mysql:8.0.29",
    "mysql:8.0.29-debian",
    "chrislusf/seaweedfs:4.00",
    *(f"quay.io/jetstack/cert-manager-{name}:v1.16.1" for name in ("controller", "webhook", "cainjector")),
    *(f"gcr.io/ml-pipeline/{name}:2.5.0" for name in ("metadata-envoy", "argoexec", "workflow-controller")),
    *(f"registry.k8s.io/{name}:v1" for name in ("pause", "metrics-server")),
    "docker.io/istio/proxyv2:1.26.1",
    "docker.io/istio/pilot:1.26.1",
    "ghcr.io/dexidp/dex:v2.43.1",
]
assert len(IMAGES) == 26


def _repository(image: str) -> str:
    name = image.split(":")[0]
    return (
        name if "/" in name and "." in name.split("/")[0] else f"docker.io/{name if '/' in name else 'library/' + name}"
    )


def refused_pull(image: str, proxy: bool = False) -> str:
    """containerd's error when the node cannot connect (through a proxy, or to a closed local port)."""
    host = "registry-1.docker.io" if _repository(image).startswith("docker.io/") else image.split("/")[0]
    tag = image.rsplit(":", 1)[1]
    path = _repository(image).split("/", 1)[1]
    dial = ("proxyconnect tcp: " if proxy else "") + "dial tcp 127.0.0.1:1: connect: connection refused"
    return (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference '
        f'"{image}": failed to do request: Head "https://{host}/v2/{path}/manifests/{tag}": {dial}'
    )


def pod(name: str, namespace: str = "kubeflow", image: str = "ghcr.io/x/app:v1", **status) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "main", "image": image}]},
        "status": {"phase": "Pending", **status},
    }


def waiting(reason: str, message: str, image: str = "ghcr.io/x/app:v1", **extra) -> dict:
    return {
        "name": "main",
        "image": image,
        "ready": False,
        "restartCount": extra.pop("restarts", 0),
        "state": {"waiting": {"reason": reason, "message": message}},
        **extra,
    }


def pulling(name: str, image: str, backoff: bool, message: str) -> dict:
    """A pod whose only container cannot be pulled: first ErrImagePull, then ImagePullBackOff."""
    if backoff:
        status = waiting("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {message}', image)
    else:
        status = waiting("ErrImagePull", message, image)
    return pod(name, image=image, containerStatuses=[status])


def unschedulable(name: str, message: str, namespace: str = "kubeflow") -> dict:
    return pod(
        name,
        namespace,
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}],
    )


def workload(name: str, namespace: str = "kubeflow") -> Workload:
    return Workload("deployment", namespace, name, ready=0, desired=1, images=())


def problems_of(pods: list[dict]) -> list[Problem]:
    found = [problem_of(workload(p["metadata"]["name"], p["metadata"]["namespace"]), p) for p in pods]
    assert all(found)
    return [p for p in found if p is not None]


# ---------------------------------------------------------------- image pulls


@pytest.mark.parametrize("proxy", [False, True], ids=["closed-local-port", "proxy"])
def test_26_images_refused_the_same_way_are_one_cause(proxy):
    pods = [pulling(f"w{i}", image, i % 2 == 1, refused_pull(image, proxy)) for i, image in enumerate(IMAGES)]
    groups, rest = group_by_cause(problems_of(pods))
    assert rest == [] and len(groups) == 1
    (group,) = groups
    assert len(group.members) == 26
    endpoint = "127.0.0.1:1 (proxy)" if proxy else "127.0.0.1:1"
    assert group.cause.key == (PULL, "connect: connection refused", endpoint)
    assert group.cause.title == f"image pulls fail: connect: connection refused ({endpoint})"
    assert "cannot reach 127.0.0.1:1" in group.cause.hint and "cache.registries" in group.cause.hint
    assert "images pull" in group.cause.hint


def test_lookups_that_time_out_at_one_dns_server_are_one_cause_whatever_the_registry():
    """Seen on the Kind ground (kind v0.32-like node, no network): Prometheus's and Grafana's images
    from quay.io, docker.io and registry.k8s.io all failed at the nodes' DNS server. One cause."""
    pods = []
    for i, (image, host) in enumerate(
        [
            ("quay.io/prometheus/node-exporter:v1.12.1", "quay.io"),
            ("docker.io/library/busybox:1.31.1", "registry-1.docker.io"),
            ("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0", "registry.k8s.io"),
        ]
    ):
        message = (
            f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed to do '
            f'request: Head "https://{host}/v2/x/manifests/v1": dial tcp: lookup {host} on 172.27.0.1:53: '
            f"read udp 172.27.0.2:{38182 + i}->172.27.0.1:53: i/o timeout"
        )
        pods.append(pulling(f"w{i}", image, i == 1, message))
    groups, rest = group_by_cause(problems_of(pods))
    assert rest == [] and len(groups) == 1
    assert groups[0].cause.title == "image pulls fail: DNS lookup: i/o timeout (172.27.0.1:53)"
    assert "DNS server 172.27.0.1:53" in groups[0].cause.hint


def test_a_refusal_at_the_registrys_own_address_groups_by_registry_not_by_address():
    """Round-robin DNS gives each pull another address of registry-1.docker.io: the registry is the endpoint."""
    message = (
        'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/mysql:8.0.29": '
        'failed to resolve reference "docker.io/library/mysql:8.0.29": failed to do request: Head '
        '"https://registry-1.docker.io/v2/library/mysql/manifests/8.0.29": dial tcp {}:443: i/o timeout'
    )
    one = pull_failure(message.format("54.236.113.205"), "mysql:8.0.29")
    other = pull_failure(message.format("[2600:1f18:2148:bc00::1]"), "mysql:8.0.29")
    assert one == other == ("i/o timeout", "registry-1.docker.io")


@pytest.mark.parametrize(
    "message, image, expected",
    [
        (
            'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/dexidp/dex:v2.43.1": failed '
            'to resolve reference "ghcr.io/dexidp/dex:v2.43.1": failed to do request: Head '
            '"https://ghcr.io/v2/dexidp/dex/manifests/v2.43.1": dial tcp: lookup ghcr.io on 10.96.0.10:53: read '
            "udp 10.244.1.3:40215->10.96.0.10:53: i/o timeout",
            "ghcr.io/dexidp/dex:v2.43.1",
            ("DNS lookup: i/o timeout", "10.96.0.10:53"),
        ),
        (
            'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/kubeflow/nope:v9": '
            'failed to resolve reference "docker.io/kubeflow/nope:v9": docker.io/kubeflow/nope:v9: not found',
            "docker.io/kubeflow/nope:v9",
            ("not found (no such image or tag)", "docker.io"),
        ),
        (
            'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/mysql:8": failed '
            'to resolve reference "docker.io/library/mysql:8": unexpected status from HEAD request to '
            "https://registry-1.docker.io/v2/library/mysql/manifests/8: 429 Too Many Requests",
            "mysql:8",
            ("429 Too Many Requests", "registry-1.docker.io"),
        ),
        (
            'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/private:1": failed to '
            'resolve reference "ghcr.io/acme/private:1": failed to authorize: failed to fetch anonymous token: '
            "unexpected status from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fprivate%3Apull"
            "&service=ghcr.io: 401 Unauthorized",
            "ghcr.io/acme/private:1",
            ("401 Unauthorized", "ghcr.io"),
        ),
        (
            'rpc error: code = Unknown desc = failed to pull and unpack image "quay.io/a/b:1": failed to resolve '
            'reference "quay.io/a/b:1": failed to do request: Head "https://quay.io/v2/a/b/manifests/1": tls: '
            "failed to verify certificate: x509: certificate signed by unknown authority",
            "quay.io/a/b:1",
            ("tls: failed to verify certificate: x509: certificate signed by unknown authority", "quay.io"),
        ),
        ('Back-off pulling image "gcr.io/a/b:1"', "gcr.io/a/b:1", ("back-off (the kubelet kept no error)", "gcr.io")),
    ],
    ids=["dns", "not-found", "rate-limit", "unauthorized", "x509", "bare-backoff"],
)
def test_pull_error_class_and_endpoint(message, image, expected):
    assert pull_failure(message, image) == expected
    backoff = f'Back-off pulling image "{image}": ErrImagePull: {message}'
    assert pull_failure(backoff, image) == expected


def test_pull_hints_say_what_to_check():
    def hint(message: str, image: str = "mysql:8") -> str:
        cause = pod_cause(pulling("p", image, False, message))
        assert cause is not None
        return cause.hint

    assert "DOCKERHUB_TOKEN" in hint(
        "unexpected status from HEAD request to https://registry-1.docker.io/v2/library/mysql/manifests/8: "
        "429 Too Many Requests"
    )
    assert "images list" in hint(
        'failed to resolve reference "docker.io/library/mysql:8": docker.io/library/mysql:8: not found'
    )
    assert "private" in hint("pull access denied, repository does not exist or may require authorization")


# ---------------------------------------------------------------- scheduling, missing objects, crash loops

SCHEDULER = (
    "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
    "2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
    "2 No preemption victims found for incoming pod."
)


def test_the_same_scheduler_message_is_one_cause_with_a_resources_and_taints_hint():
    pods = [unschedulable(name, SCHEDULER) for name in ("ml-pipeline", "mysql", "workflow-controller")]
    pods.append(
        unschedulable("istiod", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    )
    groups, rest = group_by_cause(problems_of(pods))
    assert [len(g.members) for g in groups] == [3] and [p.workload.name for p in rest] == ["istiod"]
    cause = groups[0].cause
    assert cause.key[0] == SCHEDULING and "preemption" not in cause.title
    assert cause.title == (
        "not scheduled: 0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient memory."
    )
    assert "memory or CPU" in cause.hint and "--sizing laptop" in cause.hint and "Taints" in cause.hint


def test_a_missing_secret_is_one_cause_naming_who_makes_it():
    namespace = "kubeflow-user-example-com"
    pods = [
        pod(
            name,
            namespace,
            containerStatuses=[waiting("CreateContainerConfigError", 'secret "mlpipeline-minio-artifact" not found')],
        )
        for name in ("ml-pipeline-ui-artifact", "ml-pipeline-visualizationserver")
    ]
    pods.append(
        pod(
            "mysql",
            containerStatuses=[
                waiting("CreateContainerConfigError", "couldn't find key password in Secret kubeflow/mysql-secret")
            ],
        )
    )
    groups, rest = group_by_cause(problems_of(pods))
    (group,) = groups
    assert group.cause.key == (MISSING, "Secret", namespace, "mlpipeline-minio-artifact", "")
    assert group.cause.title == f"Secret {namespace}/mlpipeline-minio-artifact does not exist"
    assert "Pipelines profile controller" in group.cause.hint
    (alone,) = rest
    assert alone.cause is not None and alone.cause.title == "Secret kubeflow/mysql-secret has no key password"


def test_a_volume_waiting_for_a_certificate_secret_is_read_from_its_failedmount_event():
    waiting_pod = pod("katib-controller-5f9c", containerStatuses=[waiting("ContainerCreating", "")])
    events = [
        {
            "reason": "FailedMount",
            "type": "Warning",
            "involvedObject": {"kind": "Pod", "name": "katib-controller-5f9c"},
            "message": 'MountVolume.SetUp failed for volume "cert" : secret "katib-webhook-cert" not found',
            "lastTimestamp": "2026-06-01T10:00:00Z",
        },
        {"reason": "FailedMount", "involvedObject": {"name": "someone-else"}, "message": 'secret "x" not found'},
    ]
    found = mount_cause(events, waiting_pod)
    assert found is not None
    cause, message = found
    assert cause.key == (MISSING, "Secret", "kubeflow", "katib-webhook-cert", "")
    assert "cert-manager" in cause.hint and "katib-webhook-cert" in message


def crash_looping(name: str, reason: str, code: int) -> dict:
    return pod(
        name,
        containerStatuses=[
            waiting(
                "CrashLoopBackOff",
                f"back-off 5m0s restarting failed container=main pod={name}_kubeflow(0d6c8f0e)",
                restarts=7,
                lastState={"terminated": {"reason": reason, "exitCode": code, "finishedAt": "2026-06-01T10:00:00Z"}},
            )
        ],
        phase="Running",
    )


def test_crash_loops_group_by_how_the_last_run_ended():
    pods = [crash_looping("a", "Error", 1), crash_looping("b", "Error", 1), crash_looping("c", "OOMKilled", 137)]
    groups, rest = group_by_cause(problems_of(pods))
    (group,) = groups
    assert group.cause.key == (CRASH, "Error", "1") and group.cause.title == "containers crash-loop (Error, exit 1)"
    assert [p.workload.name for p in group.members] == ["a", "b"]
    (oom,) = rest
    assert oom.cause is not None and "more memory than their limit" in oom.cause.hint


def test_a_ready_or_merely_starting_pod_has_no_cause():
    assert pod_cause(pod("p", containerStatuses=[waiting("ContainerCreating", "")])) is None


# ---------------------------------------------------------------- what up and status print


def _mixed() -> list[Problem]:
    pods = [pulling(f"w{i}", image, True, refused_pull(image)) for i, image in enumerate(IMAGES)]
    pods.append(unschedulable("lonely", "0/3 nodes are available: 3 Insufficient cpu."))
    return problems_of(pods)


def test_show_prints_one_line_per_cause_then_only_the_rest_and_logs_everything(caplog):
    buffer = io.StringIO()
    report = notready.NotReady.of(_mixed())
    with caplog.at_level(logging.DEBUG, logger="kfbootstrap.notready"):
        notready.show(report, Console(file=buffer, width=120), "the platform")
    text = buffer.getvalue()
    assert "Not ready, by cause (26 of 27 workloads; the complete table is in " in text
    assert "kfbootstrap.log" in text
    assert "  26 workloads: image pulls fail: connect: connection refused (127.0.0.1:1)" in text
    assert "    kubeflow/w0, kubeflow/w1, kubeflow/w2, kubeflow/w3, kubeflow/w4, … and 21 more" in text
    assert text.count("e.g. pod w0: image ghcr.io/kubeflow/kfp-api-server:2.15.0: Back-off pulling image") == 1
    assert "hint: the nodes cannot reach 127.0.0.1:1" in text
    # the per-workload table holds only what is left
    assert "deployment/lonely" in text and "deployment/w7" not in text
    assert text.count("connection refused") == 2  # the cause's line and its one example, not 26 rows
    logged = caplog.text
    assert all(f"deployment/w{i}" in logged for i in range(26)) and "deployment/lonely" in logged


def test_the_error_line_stays_whole_under_the_cli_cut():
    from kfbootstrap.cli.app import MAX_SHOWN

    problems = _mixed() + problems_of(
        [
            unschedulable(f"other-{i}-" + "x" * 40, f"0/3 nodes are available: {i + 4} Insufficient cpu.")
            for i in range(40)
        ]
    )
    summary = notready.NotReady.of(problems).summary()
    assert summary.startswith("26 × image pulls fail: connect: connection refused (127.0.0.1:1), kubeflow/lonely")
    assert summary.endswith("more)") and len(summary) < MAX_SHOWN - 150


def test_status_json_lists_causes_and_every_workload():
    body = notready.NotReady.of(_mixed()).to_json()
    (cause,) = body["causes"]
    assert cause["cause"] == "image pulls fail: connect: connection refused (127.0.0.1:1)"
    assert len(cause["workloads"]) == 26 and cause["workloads"][0] == "kubeflow/deployment/w0"
    assert len(body["workloads"]) == 27 and body["workloads"][-1]["reason"] == "Pending"
