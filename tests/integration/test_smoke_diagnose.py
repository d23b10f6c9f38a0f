"""`kfbootstrap smoke` and `kfbootstrap diagnose` against a real control plane.

Local stand-in services (tests/smoke_standins.py) and a real S3 server (SeaweedFS,
tests/seaweedfs.py) sit behind kwok pods and real Services; `smoke` reaches them
through its own port-forwards (kwok's ClusterPortForward lands them on the stand-ins
and on SeaweedFS's S3 port), reads the object-store secret
from the cluster as `creds minio` does, and writes JUnit XML that is parsed here.
`diagnose` runs against the same cluster after it has been seeded with secrets
that leak into logs, events, ConfigMaps and env values, and no value may survive
into the bundle.

The fixed namespaces smoke looks in (istio-system, kubeflow, monitoring) would
collide with other tests installing real components, so this module runs its own
small testbed (one node), with kwok's ClusterLogs enabled so pods have logs.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import tarfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kfbootstrap import components
from kfbootstrap.smoke.checks import Service
from kfbootstrap.smoke.forwards import ForwardedEndpoints
from kfbootstrap.smoke.http import Session
from tests.cli_helpers import run_cli
from tests.fakes import FakeRunner
from tests.smoke_standins import Platform
from tests.testbed.cluster import Testbed, wait_until

# (stand-in key, namespace, Service, Service port, container port, port name)
BACKENDS = [
    ("kubeflow", "istio-system", "istio-ingressgateway", 80, 8080, "http2"),
    ("pipelines", "kubeflow", "ml-pipeline", 8888, 8888, "http"),
    ("model_registry", "kubeflow", "model-registry-service", 8080, 8080, "http-api"),
    ("object_store", "kubeflow", "seaweedfs", 9000, 8333, "s3"),  # 26.03: SeaweedFS, named targetPort
    ("grafana", "monitoring", "grafana", 80, 3000, "grafana"),
    ("prometheus", "monitoring", "prometheus-server", 80, 9090, "http"),
]
NAMESPACES = ["istio-system", "kubeflow", "monitoring", "auth", "kubeflow-user-example-com"]


class LogsTestbed(Testbed):
    """The project's testbed plus kwok's ClusterLogs, so `kubectl logs` answers from a file."""

    def _config(self):
        config = super()._config()
        config["options"]["enableCRDs"] = [*config["options"]["enableCRDs"], "ClusterLogs"]
        return config


@pytest.fixture(scope="module")
def bed(testbed):
    with LogsTestbed(testbed.bin_dir, testbed.stage_dir, nodes=1) as own:
        own.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/clusterlogs.kwok.x-k8s.io")
        for namespace in NAMESPACES:
            own.kubectl("create", "namespace", namespace)
        yield own


def backend_objects(key, namespace, service, port, container_port, port_name):
    labels = {"app": service}
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{service}-0", "namespace": namespace, "labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": f"registry.invalid/{service}:1",
                        "ports": [{"containerPort": container_port, "name": port_name}],
                    }
                ]
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": port, "targetPort": port_name, "name": port_name}]},
        },
    ]


def minio_secret(platform: Platform) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mlpipeline-minio-artifact", "namespace": "kubeflow"},
        "stringData": {"accesskey": platform.access_key, "secretkey": platform.secret_key},
    }


@pytest.fixture(scope="module")
def platform(bed, object_store):
    """The stand-ins running, each behind a ready kwok pod and a Service, reachable by port-forward."""
    with Platform(object_store=object_store) as running, contextlib.ExitStack() as forwards:
        objects = [obj for backend in BACKENDS for obj in backend_objects(*backend)]
        bed.apply(objects + [minio_secret(running)])
        for key, namespace, service, _, container_port, _ in BACKENDS:
            bed.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", f"pod/{service}-0")
            forwards.enter_context(
                bed.cluster_port_forward(
                    running.port(key), namespace=namespace, pod=f"{service}-0", ports=[container_port]
                )
            )
        _wait_until_forwards_work(bed)
        yield running


def _wait_until_forwards_work(bed) -> None:
    """kwok learns of ClusterPortForwards and Services get EndpointSlices asynchronously."""
    for key, namespace, service, port, _, _ in BACKENDS:
        target = Service(key, namespace, (service,), port)

        def answers(target=target):
            try:
                with ForwardedEndpoints(bed.context, bed.kubeconfig, connect_timeout=5) as endpoints:
                    return Session(timeout=5).get(endpoints.base_url(target) + "/", follow=False).status > 0
            except Exception:  # no endpoints yet, or the forward is not routed yet
                return False

        wait_until(answers, 60, interval=1, what=f"a forward to {namespace}/{service}")


@pytest.fixture
def cli_env(bed, monkeypatch, platform):
    """The CLI sees only the testbed; the stand-ins start healthy in every test."""
    for app in platform.apps.values():
        app.mode = "ok"
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    monkeypatch.setenv("KFBOOTSTRAP_KUBEFLOW__VERSION", "26.03")  # model registry in kubeflow, as BACKENDS has it
    # No kubelet or KServe controller here: the product's own switch skips serving a model, which
    # tests/e2e/test_kind_serve.py proves on Kind against the real controller.
    monkeypatch.setenv("KFBOOTSTRAP_SMOKE__KSERVE_MODEL", "")
    monkeypatch.delenv("KUBEFLOW_PASSWORD", raising=False)
    return bed


def junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert int(suite.get("tests")) == len(cases)
    return cases


# ------------------------------------------------------------------------------------------- smoke


def test_smoke_passes_against_a_healthy_platform(cli_env, capsys, tmp_path):
    report = tmp_path / "reports" / "smoke.xml"
    result = run_cli(capsys, "smoke", "--context", cli_env.context, "--junit", report)
    assert result.code == 0, result.text
    assert "smoke: 8 passed, 0 failed, 1 skipped" in result.out
    cases = junit_cases(report)
    assert len(cases) == 9
    skipped = cases.pop("kserve-serves-a-model").find("skipped")
    assert skipped.get("message") == "smoke.kserve_model is empty: serving a model is not checked"
    for name, case in cases.items():
        assert case.find("failure") is None and case.find("error") is None, name
        assert float(case.get("time")) > 0, name
    assert cases["dex-login"].find("system-out").text == "logged in as user@example.com"
    assert cases["object-store-list-buckets"].find("system-out").text == "1 buckets: mlpipeline"


def test_smoke_reports_each_broken_component_with_its_reason(cli_env, capsys, tmp_path, platform):
    platform.apps["pipelines"].mode = "unhealthy"
    platform.apps["model_registry"].mode = "wrong-path"
    platform.apps["grafana"].mode = "db-failing"
    platform.apps["prometheus"].mode = "starting"
    platform.apps["kubeflow"].mode = "no-auth"
    report = tmp_path / "smoke.xml"
    result = run_cli(capsys, "smoke", "--context", cli_env.context, "--junit", report, "--json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["ok"] is False and (data["failed"], data["passed"]) == (6, 2)
    failures = {
        name: case.find("failure").get("message")
        for name, case in junit_cases(report).items()
        if case.find("failure") is not None
    }
    assert set(failures) == {
        "dashboard-redirects-to-dex",
        "dex-login",
        "pipelines-healthz",
        "model-registry-list",
        "grafana-health",
        "prometheus-ready",
    }
    assert "without asking for a login" in failures["dex-login"]
    assert failures["pipelines-healthz"].startswith("/apis/v2beta1/healthz answered 503")
    assert "registered_models?pageSize=10 answered 404" in failures["model-registry-list"]
    assert failures["grafana-health"].startswith("/api/health answered 503")
    assert failures["prometheus-ready"] == "GET /-/ready answered 503: Service Unavailable"


def test_smoke_wrong_password_and_rotated_object_store_secret(cli_env, capsys, tmp_path, platform, monkeypatch):
    monkeypatch.setenv("SMOKE_PW", "not-the-password")
    rotated = {
        **minio_secret(platform),
        "stringData": {"accesskey": platform.access_key, "secretkey": "rotated-" + secrets.token_hex(6)},
    }
    cli_env.apply([rotated])
    try:
        report = tmp_path / "smoke.xml"
        result = run_cli(capsys, "smoke", "--context", cli_env.context, "--junit", report, "--password-env", "SMOKE_PW")
    finally:
        cli_env.apply([minio_secret(platform)])
    assert result.code == 1
    failures = {
        name: case.find("failure").get("message")
        for name, case in junit_cases(report).items()
        if case.find("failure") is not None
    }
    assert set(failures) == {"dex-login", "object-store-list-buckets"}
    assert failures["dex-login"].startswith(
        "dex rejected the login of user@example.com: Invalid Email Address and password"
    )
    assert "403 SignatureDoesNotMatch" in failures["object-store-list-buckets"]


def test_smoke_missing_service_fails_its_check_and_disabled_component_is_skipped(
    cli_env, capsys, tmp_path, monkeypatch
):
    cli_env.kubectl("delete", "service", "prometheus-server", "-n", "monitoring")
    monkeypatch.setenv("KFBOOTSTRAP_COMPONENTS__MODEL_REGISTRY", "false")
    try:
        report = tmp_path / "smoke.xml"
        result = run_cli(capsys, "smoke", "--context", cli_env.context, "--junit", report)
    finally:
        cli_env.apply(backend_objects(*BACKENDS[-1])[1:])
    assert result.code == 1
    cases = junit_cases(report)
    assert cases["prometheus-ready"].find("failure").get("message") == (
        "cannot forward to monitoring/prometheus-server: svc/prometheus-server not found in namespace monitoring"
    )
    assert cases["model-registry-list"].find("skipped") is not None
    assert "smoke: 6 passed, 1 failed, 2 skipped" in result.out


def test_smoke_service_without_a_ready_pod_fails_fast(cli_env, capsys, tmp_path):
    cli_env.kubectl("delete", "pod", "grafana-0", "-n", "monitoring", "--wait=true")
    try:
        started = time.monotonic()
        result = run_cli(capsys, "smoke", "--context", cli_env.context, "--json")
        seconds = time.monotonic() - started
    finally:
        cli_env.apply(backend_objects(*BACKENDS[4])[:1])
        cli_env.kubectl("wait", "-n", "monitoring", "--for=condition=Ready", "--timeout=60s", "pod/grafana-0")
    assert result.code == 1
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert checks["grafana-health"]["message"] == (
        "cannot forward to monitoring/grafana: no ready pod behind svc/grafana"
    )
    assert [name for name, c in checks.items() if c["status"] not in ("passed", "skipped")] == ["grafana-health"]
    assert seconds < 15  # no waiting for a pod that is not there


def test_smoke_with_pipeline_run(cli_env, capsys, tmp_path):
    result = run_cli(capsys, "smoke", "--context", cli_env.context, "--pipeline", "--json")
    assert result.code == 0, result.text
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert checks["pipelines-run"]["status"] == "passed"
    assert checks["pipelines-run"]["message"] == "run r1 succeeded"


# ------------------------------------------------------------------------------------------- diagnose

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    + "\n".join(secrets.token_urlsafe(48)[:64] for _ in range(3))
    + "\n-----END PRIVATE KEY-----\n"
)


class HybridRunner:
    """The real runner (helm, kubectl) with only kind faked: there is no Docker here.

    `kind export logs` writes what a node's logs could hold, secrets included.
    """

    def __init__(self, cluster_name: str, leaked: str):
        from kfbootstrap.tools.runner import Result, ShRunner

        self.real = ShRunner()
        self.fake = FakeRunner().on("kind", "get", "clusters", stdout=f"{cluster_name}\n")
        self.fake.on("kind", "version", stdout="kind v0.30.0 go1.24.6 linux/amd64")

        def export(argv):
            target = Path(argv[3])
            (target / "kfb-control-plane").mkdir(parents=True)
            (target / "kfb-control-plane" / "kubelet.log").write_text(
                f"I1123 kubelet.go:1 pulled image with auth {leaked}\nE1123 probe failed\n"
            )
            return Result(tuple(argv), 0, "", "")

        self.fake.on_call("kind", "export", "logs", handler=export)

    def which(self, program):
        return self.fake.which(program) if program == "kind" else self.real.which(program)

    def run(self, argv, **kwargs):
        return (self.fake if argv[0] == "kind" else self.real).run(argv, **kwargs)


def cri_log(*lines: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "".join(f"{now} stdout F {line}\n" for line in lines)


@pytest.fixture(scope="module")
def leaky_cluster(bed, tmp_path_factory):
    """Secrets, and objects that repeat their values everywhere a careless bundle would copy them."""
    # Every value is either in a Secret, or in an env var / log line whose name says it is secret.
    values = {
        name: f"{name}-{secrets.token_hex(8)}"
        for name in ("db-password", "oidc-secret", "grafana-password", "log-only-token", "env-literal", "kind-leak")
    }
    # Values a file shows differently from the Secret: YAML-escaped, whitespace-collapsed, too short for free text.
    values["quoted"] = f'q"uo\\te-{secrets.token_hex(4)}'
    values["spaced"] = f"two  spaces-{secrets.token_hex(4)}"
    values["short"] = "zq7"
    ns = "kubeflow"
    files = tmp_path_factory.mktemp("logs")
    (files / "current.log").write_text(
        cri_log(
            "starting app",
            f"connecting to postgres://app:{values['db-password']}@db:5432/app",
            f"AWS_SECRET_ACCESS_KEY={values['log-only-token']}",
            "readiness probe failed: connection refused",
        )
    )
    (files / "previous.log").write_text(cri_log(f"panic: bad client secret {values['oidc-secret']}"))
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    bed.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "app-db", "namespace": ns},
                "data": {"password": b64(values["db-password"]), "tls.key": b64(PEM)},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "oauth2-proxy", "namespace": "auth"},
                "stringData": {"client-secret": values["oidc-secret"], "cookie-secret": secrets.token_hex(16)},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "registry-auth", "namespace": ns},
                "stringData": {"token": values["kind-leak"]},
            },  # what the fake `kind export logs` leaks
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "tricky", "namespace": ns},
                "stringData": {"quoted": values["quoted"], "spaced": values["spaced"], "pin": values["short"]},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "tricky-copy", "namespace": ns},
                "data": {
                    "quoted": f"auth: {values['quoted']}",
                    "pin": values["short"],
                    "spaced": f"say {values['spaced']}",
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "crashy.spaced", "namespace": ns},
                "involvedObject": {"kind": "Pod", "name": "crashy", "namespace": ns},
                "reason": "Unhealthy",
                "type": "Warning",
                "count": 1,
                "message": f"probe sent {values['spaced']} and pin {values['short']}",
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "grafana", "namespace": "monitoring"},
                "stringData": {"admin-user": "admin", "admin-password": values["grafana-password"]},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "leaky-config", "namespace": ns},
                "data": {
                    "dsn": f"postgres://app:{values['db-password']}@db/app",
                    "grafana.ini": f"[security]\nadmin_password = {values['grafana-password']}\n",
                    "key.pem": PEM,
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "crashy",
                    "namespace": ns,
                    "labels": {"app": "crashy"},
                    "annotations": {"debug/oidc": values["oidc-secret"]},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.invalid/crashy:1",
                            "env": [
                                {"name": "DB_PASSWORD", "value": values["env-literal"]},
                                {"name": "DATABASE_URL", "value": f"postgres://app:{values['db-password']}@db/app"},
                                {"name": "LOG_LEVEL", "value": "debug"},
                            ],
                        }
                    ]
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "stuck", "namespace": ns},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": "no-such-node"},
                    "containers": [{"name": "app", "image": "registry.invalid/stuck:1"}],
                },
            },
            {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "ClusterLogs",
                "metadata": {"name": "crashy-logs"},
                "spec": {
                    "selector": {"matchNamespaces": [ns], "matchNames": ["crashy"]},
                    "logs": [
                        {
                            "containers": ["app"],
                            "logsFile": str(files / "current.log"),
                            "previousLogsFile": str(files / "previous.log"),
                        }
                    ],
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "crashy.leak", "namespace": ns},
                "involvedObject": {"kind": "Pod", "name": "crashy", "namespace": ns},
                "reason": "FailedMount",
                "type": "Warning",
                "count": 3,
                "message": f"MountVolume.SetUp failed: token {values['oidc-secret']} rejected",
            },
        ]
    )
    bed.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "pod/crashy")
    # Make crashy look like a crash-looping container: Running but not Ready, restarted twice.
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "False", "lastTransitionTime": now},
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "registry.invalid/crashy:1",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 2,
                    "state": {
                        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}
                    },
                }
            ],
        }
    }
    bed.kubectl("patch", "pod", "crashy", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    chart = tmp_path_factory.mktemp("chart") / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: tiny}
        data: {hello: world}
        """)
    )
    bed.helm("install", "tiny", str(chart), "-n", "monitoring", "--wait", "--timeout", "60s")
    # diagnose treats the cluster as our Kind cluster "diag": give the testbed that context name.
    config = json.loads(bed.kubectl("config", "view", "--raw", "-o", "json").stdout)
    current = next(c for c in config["contexts"] if c["name"] == bed.context)["context"]
    bed.run(
        ["kubectl", "config", "set-context", "kind-diag", "--cluster", current["cluster"], "--user", current["user"]]
    )
    return values


def all_secret_values(bed) -> set[bytes]:
    """Every value of every Secret in the cluster that the bundle promises to hide."""
    from kfbootstrap.diagnose.redact import MIN_LENGTH, is_public_key

    found: set[bytes] = set()
    for item in json.loads(bed.kubectl("get", "secrets", "-A", "-o", "json").stdout)["items"]:
        for key, encoded in (item.get("data") or {}).items():
            decoded = base64.b64decode(encoded)
            if not is_public_key(item.get("type", ""), key) and len(decoded.strip()) >= MIN_LENGTH:
                found.update({decoded, encoded.encode()})
    return found


def test_diagnose_bundle_holds_the_evidence_and_no_secret(bed, leaky_cluster, platform, capsys, tmp_path, monkeypatch):
    for key, value in bed.env.items():  # helm from the testbed's bin dir, with its private caches
        monkeypatch.setenv(key, value)
    runner = HybridRunner("diag", leaky_cluster["kind-leak"])
    monkeypatch.setattr("kfbootstrap.cli.diagnose.new_runner", lambda: runner)
    started = time.monotonic()
    result = run_cli(capsys, "diagnose", "--name", "diag", "--out", tmp_path / "out", "--json")
    seconds = time.monotonic() - started
    assert result.code == 0, result.text
    answer = json.loads(result.out)
    bundle = Path(answer["bundle"])
    assert bundle.name.startswith("kfbootstrap-diagnose-diag-") and bundle.name.endswith(".tar.gz")
    assert bundle.stat().st_mode & 0o077 == 0  # owner-only
    assert ["kind", "export", "logs"] == runner.fake.commands("kind")[-1][:3]

    with tarfile.open(bundle) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    text = lambda name: members[name].decode()  # noqa: E731

    # The evidence is there.
    for name in (
        "summary.txt",
        "config.yaml",
        "versions.yaml",
        "helm-releases.json",
        "cluster/pods.yaml",
        "cluster/pods.txt",
        "cluster/nodes.txt",
        "cluster/events.txt",
        "cluster/configmaps.yaml",
        "cluster/workloads.txt",
        "cluster/not-ready-pods.txt",
        "logs/kubeflow/crashy/app.log",
        "logs/kubeflow/crashy/app.previous.log",
        "kind-logs/kfb-control-plane/kubelet.log",
    ):
        assert name in members, f"{name} missing; have {sorted(members)}"
    not_ready = text("cluster/not-ready-pods.txt")
    assert "crashy" in not_ready and "CrashLoopBackOff" in not_ready
    assert "stuck" in not_ready and "didn't match Pod's node affinity/selector" in not_ready
    assert answer["not_ready_pods"] == 2
    assert "readiness probe failed: connection refused" in text("logs/kubeflow/crashy/app.log")
    assert "panic: bad client secret [REDACTED]" in text("logs/kubeflow/crashy/app.previous.log")
    assert "AWS_SECRET_ACCESS_KEY=[REDACTED]" in text("logs/kubeflow/crashy/app.log")
    assert "FailedMount" in text("cluster/events.txt")
    assert any(r["name"] == "tiny" and r["status"] == "deployed" for r in json.loads(members["helm-releases.json"]))
    assert "kubernetes server: v1." in text("versions.yaml")
    assert "name: diag" in text("config.yaml")
    assert "LOG_LEVEL" in text("cluster/pods.yaml") and "value: debug" in text("cluster/pods.yaml")
    assert "leaky-config" in text("cluster/configmaps.yaml")
    assert "admin_password = [REDACTED]" in text("cluster/configmaps.yaml")  # the user name stays readable

    # No Secret object, and no secret value anywhere.
    assert not any(b"kind: Secret" in data for data in members.values())
    forbidden = all_secret_values(bed) | {v.encode() for v in leaky_cluster.values()}
    assert {platform.secret_key.encode(), leaky_cluster["env-literal"].encode()} <= forbidden
    leaks = [(name, value[:12]) for name, data in members.items() for value in forbidden if value in data]
    assert leaks == []
    # ...nor in the forms the files would show them: YAML/JSON-escaped, collapsed by a table, a short one alone.
    shown = {json.dumps(leaky_cluster["quoted"])[1:-1].encode(), b" ".join(leaky_cluster["spaced"].encode().split())}
    assert [(name, v) for name, data in members.items() for v in shown if v in data] == []
    assert not [name for name, data in members.items() if re.search(rb"(?<![A-Za-z0-9])zq7(?![A-Za-z0-9])", data)]
    assert "probe sent [REDACTED] and pin [REDACTED]" in text("cluster/events.txt")
    pem_lines = [line.encode() for line in PEM.splitlines() if "PRIVATE KEY" not in line]
    assert not any(line in data for line in pem_lines for data in members.values())
    print(f"diagnose: {len(members)} files, {bundle.stat().st_size} bytes, {seconds:.1f}s")


def test_up_s_not_ready_table_quotes_a_crash_looping_container_s_last_log_lines(bed, leaky_cluster):
    """The readiness wait reads the crashing container's log through the adapter (its previous run first)."""
    from kfbootstrap.kube.api import PODS
    from kfbootstrap.kube.client import connect
    from kfbootstrap.kube.readiness import _with_logs
    from kfbootstrap.kube.rest import Timeouts

    kube = connect(bed.context, Timeouts(), bed.kubeconfig)
    pod = kube.get(PODS, "crashy", "kubeflow")
    assert pod is not None
    detail = _with_logs(kube, pod, "pod crashy: CrashLoopBackOff")
    assert "; last log lines:\n" in detail and f"panic: bad client secret {leaky_cluster['oidc-secret']}" in detail


def test_diagnose_without_a_cluster_still_writes_a_bundle(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.setattr("kfbootstrap.cli.diagnose.new_runner", lambda: FakeRunner(missing=["kind", "helm"]))
    result = run_cli(capsys, "diagnose", "--context", "nowhere", "--out", tmp_path)
    assert result.code == 0, result.text
    bundle = Path(result.out.strip())
    with tarfile.open(bundle) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
        summary = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("summary.txt"))).read().decode()
    assert {"summary.txt", "config.yaml", "versions.yaml"} <= names
    assert "cluster not reachable" in summary and "helm releases not collected: helm was not found" in summary
    assert "cluster not reachable" in result.err


# ------------------------------------------------------------------------- the Kubeflow password

DEX_DEFAULT_HASH = "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72"  # upstream's hash of 12341234


def dex_render() -> str:
    """The parts of the `example` that matter here, as kubeflow/manifests ships them: the default hash in
    Secret dex-passwords, dex's config naming it, and the Deployment that reads it from its environment."""
    dex_config = "staticPasswords:\n- email: user@example.com\n  hashFromEnv: DEX_USER_PASSWORD\n  username: user\n"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "auth"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "dex-passwords", "namespace": "auth"},
            "stringData": {"DEX_USER_PASSWORD": DEX_DEFAULT_HASH},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dex", "namespace": "auth"},
            "data": {"config.yaml": dex_config},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "dex", "namespace": "auth"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "dex"}},
                "template": {
                    "metadata": {"labels": {"app": "dex"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "dex",
                                "image": "ghcr.io/dexidp/dex:v2.45.1",
                                "envFrom": [{"secretRef": {"name": "dex-passwords"}}],
                            }
                        ]
                    },
                },
            },
        },
    ]
    import yaml

    return yaml.safe_dump_all(objects)


class AuthHistory:
    """Every version of auth/dex-passwords and the creation of auth/deployment dex, in etcd order."""

    def __init__(self, bed):
        from kubernetes import client, watch

        self.secrets: list[tuple[int, str]] = []  # (resourceVersion, hash)
        self.dex_created: int | None = None
        api = bed.api_client()
        self._core, self._apps, self._watch = client.CoreV1Api(api), client.AppsV1Api(api), watch
        self._stop = False
        import threading

        self._threads = [
            threading.Thread(target=self._follow, args=(kind,), daemon=True) for kind in ("secret", "deployment")
        ]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        time.sleep(1)  # both watches established before anything is written
        return self

    def __exit__(self, *exc):
        self._stop = True
        for thread in self._threads:
            thread.join(timeout=10)

    def _follow(self, kind: str) -> None:
        lister = self._core.list_namespaced_secret if kind == "secret" else self._apps.list_namespaced_deployment
        while not self._stop:
            for event in self._watch.Watch().stream(
                lister,
                "auth",
                timeout_seconds=2,
                field_selector=f"metadata.name={'dex-passwords' if kind == 'secret' else 'dex'}",
            ):
                obj = event["object"]
                version = int(obj.metadata.resource_version)
                if kind == "secret" and event["type"] != "DELETED":
                    value = base64.b64decode((obj.data or {}).get("DEX_USER_PASSWORD", "")).decode()
                    self.secrets.append((version, value))
                elif kind == "deployment" and event["type"] == "ADDED" and self.dex_created is None:
                    self.dex_created = version


def test_kubeflow_password_end_to_end(cli_env, capsys, tmp_path, platform, monkeypatch):
    """up sets a random password before Dex exists, creds shows it, smoke logs in with it, passwd changes it."""
    import bcrypt
    import yaml

    bed = cli_env
    render = tmp_path / "kubeflow.yaml"
    render.write_text(dex_render())
    config = tmp_path / "kfbootstrap.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubeflow": {"path": str(render)},
                "components": {name: name == "kubeflow" for name in components.names()},
                "forwards": {"auto": False},
                "timeouts": {"apply": 120, "ready": 120},
            }
        )
    )
    monkeypatch.setattr(
        "kfbootstrap.cli.common.new_runner",
        lambda: __import__("kfbootstrap.tools.runner", fromlist=["ShRunner"]).ShRunner(),
    )
    try:
        with AuthHistory(bed) as history:
            first = run_cli(capsys, "up", "--context", bed.context, "--config", config)
            assert first.code == 0, first.text
            assert "Set the Kubeflow user's password" in first.err and "random" in first.err
            wait_until(lambda: history.dex_created is not None, 10, what="the dex Deployment's ADDED event")

        creds = run_cli(capsys, "creds", "kubeflow", "--context", bed.context, "--json")
        assert creds.code == 0, creds.text
        shown = json.loads(creds.out)
        password = shown["password"]
        assert shown["default_password"] is False and password and password != "12341234" and len(password) >= 16

        # Every version Dex's Secret ever had holds the new password's hash, and one existed before Dex did.
        assert history.secrets, "no version of auth/dex-passwords was seen"
        assert all(bcrypt.checkpw(password.encode(), h.encode()) for _, h in history.secrets), (
            "the render's default hash reached the cluster"
        )
        assert min(v for v, _ in history.secrets) < history.dex_created

        # A re-run keeps it (never a new one behind the user's back).
        again = run_cli(capsys, "up", "--context", bed.context, "--config", config)
        assert again.code == 0, again.text
        assert (
            json.loads(run_cli(capsys, "creds", "kubeflow", "--context", bed.context, "--json").out)["password"]
            == password
        )

        # smoke logs in with it without --password-env (the stand-in Dex accepts only this password).
        platform.apps["kubeflow"].password = password
        report = tmp_path / "smoke.xml"
        smoke = run_cli(capsys, "smoke", "--context", bed.context, "--junit", report)
        assert smoke.code == 0, smoke.text
        assert junit_cases(report)["dex-login"].find("failure") is None

        # passwd changes it: Dex restarts, and the cluster's hash no longer matches the old password.
        monkeypatch.setenv("NEW_KF_PASSWORD", "a-new-password-" + secrets.token_hex(4))
        changed = run_cli(capsys, "passwd", "--context", bed.context, "--from-env", "NEW_KF_PASSWORD")
        assert changed.code == 0, changed.text
        assert "The new password of user@example.com works now" in changed.out
        stored = json.loads(bed.kubectl("get", "secret", "dex-passwords", "-n", "auth", "-o", "json").stdout)
        new_hash = base64.b64decode(stored["data"]["DEX_USER_PASSWORD"]).decode()
        assert not bcrypt.checkpw(password.encode(), new_hash.encode())
        assert bcrypt.checkpw(os.environ["NEW_KF_PASSWORD"].encode(), new_hash.encode())
        dex = json.loads(bed.kubectl("get", "deployment", "dex", "-n", "auth", "-o", "json").stdout)
        assert "kubectl.kubernetes.io/restartedAt" in dex["spec"]["template"]["metadata"]["annotations"]
        assert (
            json.loads(run_cli(capsys, "creds", "kubeflow", "--context", bed.context, "--json").out)["password"]
            == os.environ["NEW_KF_PASSWORD"]
        )
    finally:
        platform.apps["kubeflow"].password = "12341234"
        for kind, name in (
            ("deployment", "dex"),
            ("secret", "dex-passwords"),
            ("secret", "kfbootstrap-kubeflow-login"),
            ("configmap", "dex"),
        ):
            bed.kubectl("delete", kind, name, "-n", "auth", "--ignore-not-found", check=False)
        bed.kubectl("delete", "configmap", "kfbootstrap-state", "-n", "kube-system", "--ignore-not-found", check=False)


def test_diagnose_without_access_to_secrets_leaves_out_what_it_cannot_check(
    bed, leaky_cluster, tmp_path, capsys, monkeypatch
):
    """A user who may read pods but not Secrets: nothing whose secrets could not be recognised is written."""
    quoted = f"password hunter2-{secrets.token_hex(6)} rejected"  # a message no Secret holds
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bed.kubectl(
        "patch",
        "pod",
        "stuck",
        "-n",
        "kubeflow",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "lastTransitionTime": now,
                            "reason": "Unschedulable",
                            "message": quoted,
                        }
                    ]
                }
            }
        ),
    )
    bed.apply(
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "no-secrets", "namespace": "default"}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "no-secrets"},
                "rules": [
                    {
                        "apiGroups": ["", "apps", "events.k8s.io"],
                        "verbs": ["get", "list"],
                        "resources": [
                            "pods",
                            "pods/log",
                            "nodes",
                            "events",
                            "configmaps",
                            "namespaces",
                            "deployments",
                            "statefulsets",
                            "daemonsets",
                        ],
                    },
                    {"nonResourceURLs": ["/version"], "verbs": ["get"]},
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "no-secrets"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "no-secrets"},
                "subjects": [{"kind": "ServiceAccount", "name": "no-secrets", "namespace": "default"}],
            },
        ]
    )
    token = bed.kubectl("create", "token", "no-secrets", "-n", "default").stdout.strip()
    kubeconfig = tmp_path / "no-secrets.kubeconfig"
    kubeconfig.write_text(bed.kubectl("config", "view", "--raw", "--minify", "--context", bed.context).stdout)
    bed.run(["kubectl", "--kubeconfig", str(kubeconfig), "config", "set-credentials", "limited", "--token", token])
    bed.run(["kubectl", "--kubeconfig", str(kubeconfig), "config", "set-context", "--current", "--user", "limited"])
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr("kfbootstrap.cli.diagnose.new_runner", lambda: FakeRunner(missing=["kind", "helm"]))
    result = run_cli(capsys, "diagnose", "--context", bed.context, "--out", tmp_path / "out", "--json")
    assert result.code == 0, result.text
    with tarfile.open(json.loads(result.out)["bundle"]) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    assert "cluster/pods.yaml" not in members and "cluster/configmaps.yaml" not in members
    assert "cluster/pods.txt" in members and b"stuck" in members["cluster/not-ready-pods.txt"]
    assert b"(left out)" in members["cluster/not-ready-pods.txt"]
    assert "pods.yaml and the pods' status messages are left out" in members["summary.txt"].decode()
    everything = b"".join(members.values())
    for value in (quoted, leaky_cluster["db-password"], leaky_cluster["oidc-secret"]):
        assert value.encode() not in everything
