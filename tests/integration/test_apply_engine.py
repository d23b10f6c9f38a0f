"""The apply engine against a real API server: per-object convergence, and the whole Kubeflow 26.03 render.

- A custom resource sent before its CRD exists, and ConfigMaps guarded by a webhook
  whose server is down at first, are retried one by one while everything else is
  applied exactly once (no whole-set retry).
- The full 26.03 `example` render (675 objects, 74 CRDs; webhook configurations
  stripped in this test input only, the testbed has no webhook servers) applies to a
  fresh cluster in one run of the Kubeflow step; a second run is a no-op in seconds,
  and re-applying changes no object. `down --keep-cluster` then removes it all.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kfbootstrap.kube import retry
from kfbootstrap.kube.apply import apply_objects
from kfbootstrap.kube.discovery import Discovery, KindNotServed, scoped_ref
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_SELECTOR, dump_manifests, ref_of
from kfbootstrap.kube.rest import METADATA_LIST_ACCEPT, KubeRest
from tests.shared_fixtures import render_without_webhooks
from tests.testbed.cluster import Testbed, free_ports, wait_until


def configmap(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"k": name},
    }


# ---------------------------------------------------------------- a CR before its CRD


def widget_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def widget(group: str, namespace: str, name: str = "w1") -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"size": 3},
    }


def test_cr_sent_before_its_crd_exists_waits_alone_and_converges(testbed, namespace):
    group = f"{namespace}.kfb.test"
    others = [configmap(f"c{i}", namespace) for i in range(4)]
    objects = [widget(group, namespace)] + others
    # The CRD is created by someone else, 3 s after we started (an operator installing it, say).
    creator = threading.Timer(3.0, lambda: testbed.apply([widget_crd(group)]))
    creator.start()
    try:
        report = apply_objects(testbed.api_client(), objects, component="crd-test", timeout=90)
    finally:
        creator.join()
    try:
        attempts = report.attempts()
        cr = f"Widget/{namespace}/w1"
        assert report.ok and attempts[cr] > 1
        assert next(r for r in report.results if str(r.ref) == cr).verdict.reason == retry.KIND_NOT_SERVED
        assert all(attempts[f"ConfigMap/{namespace}/c{i}"] == 1 for i in range(4))  # not re-sent
        got = json.loads(testbed.kubectl("get", f"widgets.{group}", "w1", "-n", namespace, "-o", "json").stdout)
        assert got["spec"] == {"size": 3} and got["metadata"]["labels"][COMPONENT_LABEL] == "crd-test"
    finally:
        testbed.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_crd_and_its_cr_in_one_set_apply_in_order(testbed, namespace):
    group = f"{namespace}-2.kfb.test"
    objects = [
        widget(group, namespace, "a"),
        widget(group, namespace, "b"),
        widget_crd(group),
        configmap("plain", namespace),
    ]
    try:
        report = apply_objects(testbed.api_client(), objects, component="crd-test", timeout=90)
        assert report.ok
        # The CRs were held until the watch saw the CRD Established: at most a discovery lag retry.
        assert report.attempts()[f"Widget/{namespace}/a"] <= 2 and report.attempts()[f"Widget/{namespace}/b"] <= 2
        names = testbed.kubectl("get", f"widgets.{group}", "-n", namespace, "-o", "name").stdout.split()
        assert sorted(names) == [f"widget.{group}/a", f"widget.{group}/b"]
    finally:
        testbed.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


# ---------------------------------------------------------------- a webhook that refuses, then accepts


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (openssl CLI: no extra Python package needed)."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class AdmissionServer:
    """A validating webhook that allows everything and counts what it was asked."""

    def __init__(self, port: int, cert: Path, key: Path):
        self.reviewed: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.reviewed.append(review["request"]["name"])
                body = json.dumps(
                    {
                        "apiVersion": "admission.k8s.io/v1",
                        "kind": "AdmissionReview",
                        "response": {"uid": review["request"]["uid"], "allowed": True},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.handler, self.port, self.cert, self.key = Handler, port, cert, key
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        """Bind and serve only now: until then the port refuses connections, like a pod not yet ready."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def test_objects_refused_by_a_webhook_without_server_converge_when_it_comes_up(testbed, namespace, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    port = free_ports(1)[0]
    import base64

    webhook_name = f"{namespace}.guard.kfb.test"
    testbed.apply(
        [
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": webhook_name},
                "webhooks": [
                    {
                        "name": webhook_name,
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "failurePolicy": "Fail",
                        "timeoutSeconds": 5,
                        "clientConfig": {
                            "url": f"https://127.0.0.1:{port}/validate",
                            "caBundle": base64.b64encode(cert.read_bytes()).decode(),
                        },
                        "rules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE", "UPDATE"],
                                "resources": ["configmaps"],
                            }
                        ],
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                        "objectSelector": {"matchLabels": {"guarded": "yes"}},
                    }
                ],
            }
        ]
    )
    guarded = [configmap(f"guarded-{i}", namespace, guarded="yes") for i in range(3)]
    free = [configmap(f"free-{i}", namespace) for i in range(3)]
    server = AdmissionServer(port, cert, key)
    starter = threading.Timer(4.0, server.start)  # the webhook's pod becomes ready a few seconds in
    try:
        starter.start()
        began = time.monotonic()
        report = apply_objects(testbed.api_client(), guarded + free, component="webhook-test", timeout=90)
        elapsed = time.monotonic() - began
        attempts = report.attempts()
        assert report.ok
        for obj in guarded:
            result = next(r for r in report.results if r.ref.name == obj["metadata"]["name"])
            assert result.attempts > 1 and result.verdict.reason == retry.WEBHOOK_NOT_READY
            assert "failed calling webhook" in result.verdict.message
        assert all(attempts[f"ConfigMap/{namespace}/free-{i}"] == 1 for i in range(3))
        assert sorted(set(server.reviewed)) == [f"guarded-{i}" for i in range(3)]
        assert 4.0 <= elapsed < 30  # converged soon after the server came up, not after a long fixed sleep
        labels = json.loads(testbed.kubectl("get", "configmap", "guarded-0", "-n", namespace, "-o", "json").stdout)
        assert labels["metadata"]["labels"]["guarded"] == "yes"
    finally:
        starter.cancel()
        testbed.kubectl("delete", "validatingwebhookconfiguration", webhook_name, check=False)
        server.stop()


def test_invalid_object_fails_at_once_with_a_table(testbed, namespace):
    from kfbootstrap.kube.apply import ApplyFailed

    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {
            "replicas": -1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    began = time.monotonic()
    with pytest.raises(ApplyFailed) as caught:
        apply_objects(testbed.api_client(), [bad, configmap("fine", namespace)], component="bad-test", timeout=120)
    assert time.monotonic() - began < 20  # not retried until the deadline
    error = caught.value
    assert error.report.applied == 1 and error.exit_code == 1
    assert "1 invalid" in error.message
    assert f"Deployment/{namespace}/bad" in error.details and "invalid" in error.details


def test_deadline_reports_what_did_not_apply_and_why(testbed, namespace):
    from kfbootstrap.kube.apply import ApplyFailed

    objects = [widget(f"{namespace}-never.kfb.test", namespace), configmap("fine", namespace)]
    began = time.monotonic()
    with pytest.raises(ApplyFailed) as caught:
        apply_objects(testbed.api_client(), objects, component="deadline-test", timeout=4)
    assert 4 <= time.monotonic() - began < 15
    error = caught.value
    assert error.report.timed_out and error.report.applied == 1
    assert error.message.startswith("1 of 2 objects of deadline-test did not apply within 4s")
    assert "1 kind not served yet" in error.message
    assert f"Widget/{namespace}/w1" in error.details and "kind not served yet" in error.details
    assert "kubectl get crd" in error.hint


# ---------------------------------------------------------------- the whole Kubeflow render


@pytest.fixture(scope="module")
def fresh(testbed):
    """A cluster of its own: the full render adds 74 CRDs and cluster-wide RBAC other tests should not see."""
    with Testbed(testbed.bin_dir, testbed.stage_dir) as bed:
        yield bed


@pytest.fixture(scope="module")
def kubeflow_input(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    """The 26.03 render without webhook configurations (the testbed has no webhook servers)."""
    objects = render_without_webhooks("kubeflow-26.03", "example.yaml.xz")
    path = tmp_path_factory.mktemp("kubeflow") / "kubeflow.yaml"
    path.write_text(dump_manifests(objects))
    return path, objects


def _step_and_context(bed: Testbed, manifests: Path, monkeypatch, step_class=None, **flags):
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.steps.kubeflow import KubeflowStep
    from kfbootstrap.tools.runner import ShRunner

    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    config = load_config(
        flags={"cluster.context": bed.context, "kubeflow.path": manifests, "kubeflow.version": "26.03", **flags},
        env={},
        cwd=manifests.parent,
    ).config
    return (step_class or KubeflowStep)(), RunContext(config=config, runner=ShRunner())


def _our_objects(rest: KubeRest, objects: list[dict[str, Any]], selector: str) -> dict[str, dict[str, Any]]:
    """str(ref) -> metadata of every object of the render's kinds that carries `selector`."""
    discovery = Discovery(rest)
    found: dict[str, dict[str, Any]] = {}
    for api_version, kind in sorted({(o["apiVersion"], o["kind"]) for o in objects}):
        try:
            resource = discovery.resource(api_version, kind)
        except KindNotServed:  # its CRD is gone, and its objects with it
            continue
        listing = (
            rest.get_json(
                resource.collection_path(None), query={"labelSelector": selector}, accept=METADATA_LIST_ACCEPT
            )
            or {}
        )  # 404: its CRD went away while we polled
        for item in listing.get("items") or []:
            meta = item["metadata"]
            ref = ref_of({"apiVersion": api_version, "kind": kind, "metadata": meta})
            found[str(ref)] = meta
    return found


def _expected(rest: KubeRest, objects: list[dict[str, Any]]) -> set[str]:
    """str(ref) of each object as the server names it (kustomize puts namespaces on some cluster-scoped CRs)."""
    discovery = Discovery(rest)
    return {str(scoped_ref(discovery.resource(o["apiVersion"], o["kind"]), ref_of(o), None)) for o in objects}


def _our_apply_time(meta: dict[str, Any]) -> str:
    return next(entry["time"] for entry in meta["managedFields"] if entry["manager"] == "kfbootstrap")


def test_full_kubeflow_render_applies_in_one_run_and_a_rerun_is_a_noop(fresh, kubeflow_input, monkeypatch):
    manifests, objects = kubeflow_input
    assert len(objects) == 647 and sum(o["kind"] == "CustomResourceDefinition" for o in objects) == 74
    step, ctx = _step_and_context(fresh, manifests, monkeypatch)
    assert not step.is_done(ctx)

    began = time.monotonic()
    note = step.run(ctx)
    first_run = time.monotonic() - began
    assert note.startswith("647/647 objects")

    rest = KubeRest(fresh.api_client())
    present = _our_objects(rest, objects, f"{COMPONENT_LABEL}=kubeflow")
    assert _expected(rest, objects) - set(present) == set(), "objects missing after one run"
    assert len(present) == 647

    # A second run of `up`: the marker matches, nothing is applied, in seconds.
    again, ctx2 = _step_and_context(fresh, manifests, monkeypatch)
    began = time.monotonic()
    assert again.is_done(ctx2)
    assert time.monotonic() - began < 5

    # And re-applying anyway changes no object: our manager's timestamps stay as they were.
    time.sleep(1.1)  # managedFields times have one-second resolution
    from kfbootstrap.kube.applyset import PART_OF_LABEL, Record

    # With the ApplySet label the step puts on every object, as `up` sends it.
    report = apply_objects(
        rest, objects, component="kubeflow", timeout=300, labels={PART_OF_LABEL: Record("kubeflow").id}
    )
    assert report.ok and max(report.attempts().values()) == 1
    after = _our_objects(rest, objects, f"{COMPONENT_LABEL}=kubeflow")
    changed = [ref for ref, meta in after.items() if _our_apply_time(meta) != _our_apply_time(present[ref])]
    assert changed == []
    print(f"\nfull render: first run {first_run:.1f}s; re-apply {report.seconds:.1f}s with {report.requests} requests")


def test_kserve_step_applies_its_own_render_and_then_skips(fresh, kubeflow_input, monkeypatch, tmp_path):
    """A pre-rendered directory as `render --out` writes it: kubeflow.yaml plus kserve.yaml."""
    from kfbootstrap.steps.kserve import KServeStep

    manifests, _ = kubeflow_input
    (tmp_path / "kubeflow.yaml").symlink_to(manifests)
    kserve = render_without_webhooks("kubeflow-26.03", "kserve.yaml.xz")
    (tmp_path / "kserve.yaml").write_text(dump_manifests(kserve))

    kubeflow_again, ctx = _step_and_context(fresh, tmp_path, monkeypatch)
    assert kubeflow_again.is_done(ctx)  # same kubeflow render from another source: still done
    # With Kubeflow on, the example already brought KServe: no second copy.
    step, ctx = _step_and_context(fresh, tmp_path, monkeypatch, KServeStep)
    assert step.run(ctx) == "not applied separately: KServe comes with the example of 26.03"
    # KServe alone (Kubeflow off) is applied from its own render.
    alone = {"components.kubeflow": False}
    step, ctx = _step_and_context(fresh, tmp_path, monkeypatch, KServeStep, **alone)
    assert not step.is_done(ctx)
    assert step.run(ctx).startswith(f"{len(kserve)}/{len(kserve)} objects")
    assert _step_and_context(fresh, tmp_path, monkeypatch, KServeStep, **alone)[0].is_done(ctx)
    crd = json.loads(fresh.kubectl("get", "crd", "inferenceservices.serving.kserve.io", "-o", "json").stdout)
    assert crd["metadata"]["labels"][COMPONENT_LABEL] == "kserve"


def test_down_keep_cluster_deletes_everything_we_applied(fresh, kubeflow_input, monkeypatch, capsys):
    from tests.cli_helpers import run_cli

    _, objects = kubeflow_input
    monkeypatch.setenv("KUBECONFIG", fresh.kubeconfig)
    rest = KubeRest(fresh.api_client())
    fresh.kubectl("create", "configmap", "not-ours", "-n", "kube-system")
    assert len(_our_objects(rest, objects, MANAGED_SELECTOR)) >= 647

    result = run_cli(capsys, "down", "--keep-cluster", "--context", fresh.context)
    assert result.code == 0, result.text
    assert "Delete what kfbootstrap applied" in result.err

    def gone() -> bool:
        left = _our_objects(rest, objects, MANAGED_SELECTOR)
        return not [ref for ref, meta in left.items() if not meta.get("deletionTimestamp")]

    wait_until(gone, 120, interval=2, what="our objects to be deleted")
    assert fresh.kubectl("get", "configmap", "not-ours", "-n", "kube-system", check=False).returncode == 0
    assert fresh.kubectl("get", "--raw", "/readyz").returncode == 0  # the cluster itself stays
