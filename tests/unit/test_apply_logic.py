"""The apply engine's pure rules: ordering, labelling, parsing, refusal classification, CRD states, deletion order."""

from __future__ import annotations

import json
import random

import pytest

from kfbootstrap.config import load_config
from kfbootstrap.kube import retry
from kfbootstrap.kube.apply import ApplyFailed, ApplyReport, ObjectResult
from kfbootstrap.kube.cleanup import ORDER, deletion_stage, plan_deletion
from kfbootstrap.kube.crds import crd_state, oldest_version
from kfbootstrap.kube.objects import (
    COMPONENT_LABEL,
    MANAGED_BY_LABEL,
    PHASE_FOUNDATION,
    PHASE_MAIN,
    PHASE_WEBHOOKS,
    ManifestError,
    ObjectRef,
    crd_group_versions,
    crd_kinds,
    duplicates,
    for_apply,
    namespaces_of,
    parse_manifests,
    phase_of,
    plan_phases,
    ref_of,
    with_labels,
)


def obj(kind: str, name: str = "x", api_version: str = "v1", namespace: str | None = None, **extra) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def crd(group: str, kind: str, plural: str, versions=("v1",)) -> dict:
    return obj(
        "CustomResourceDefinition",
        f"{plural}.{group}",
        "apiextensions.k8s.io/v1",
        spec={
            "group": group,
            "names": {"kind": kind, "plural": plural},
            "versions": [{"name": v, "served": True} for v in versions],
        },
    )


# ---------------------------------------------------------------- ordering


@pytest.mark.parametrize(
    "thing, phase",
    [
        (obj("Namespace"), PHASE_FOUNDATION),
        (crd("example.com", "Widget", "widgets"), PHASE_FOUNDATION),
        (obj("MutatingWebhookConfiguration", api_version="admissionregistration.k8s.io/v1"), PHASE_WEBHOOKS),
        (obj("ValidatingWebhookConfiguration", api_version="admissionregistration.k8s.io/v1"), PHASE_WEBHOOKS),
        (obj("Deployment", api_version="apps/v1", namespace="a"), PHASE_MAIN),
        (obj("Widget", api_version="example.com/v1"), PHASE_MAIN),
        # Same kind name in another group is not ours to special-case.
        (obj("Namespace", api_version="example.com/v1"), PHASE_MAIN),
        (obj("ValidatingWebhookConfiguration", api_version="example.com/v1"), PHASE_MAIN),
    ],
)
def test_phase_of(thing, phase):
    assert phase_of(thing) == phase


def test_plan_phases_keeps_render_order_within_each_phase():
    objects = [
        obj("ConfigMap", "b", namespace="n"),
        obj("MutatingWebhookConfiguration", "w", "admissionregistration.k8s.io/v1"),
        crd("e.com", "A", "as"),
        obj("Namespace", "n"),
        obj("ConfigMap", "a", namespace="n"),
    ]
    phases = plan_phases(objects)
    assert [o["metadata"]["name"] for o in phases[PHASE_FOUNDATION]] == ["as.e.com", "n"]
    assert [o["metadata"]["name"] for o in phases[PHASE_MAIN]] == ["b", "a"]
    assert [o["metadata"]["name"] for o in phases[PHASE_WEBHOOKS]] == ["w"]
    assert list(phases) == [PHASE_FOUNDATION, PHASE_MAIN, PHASE_WEBHOOKS]


def test_crd_kinds_and_versions_say_which_objects_wait_for_which_crd():
    objects = [
        crd("serving.kserve.io", "InferenceService", "inferenceservices", ("v1alpha1", "v1beta1")),
        obj("ConfigMap"),
    ]
    assert crd_kinds(objects) == {("serving.kserve.io", "InferenceService"): "inferenceservices.serving.kserve.io"}
    assert crd_group_versions(objects) == {
        "inferenceservices.serving.kserve.io": ("serving.kserve.io", ["v1alpha1", "v1beta1"])
    }


def test_object_ref_group_and_text():
    ref = ref_of(obj("Deployment", "web", "apps/v1", "shop"))
    assert (ref.group, str(ref)) == ("apps", "Deployment/shop/web")
    assert ref_of(obj("ConfigMap", "c"), default_namespace="kubeflow").namespace == "kubeflow"
    assert str(ref_of(obj("ClusterRole", "r", "rbac.authorization.k8s.io/v1"))) == "ClusterRole/r"


def test_duplicates_are_found_with_default_namespace_applied():
    objects = [obj("ConfigMap", "c"), obj("ConfigMap", "c", namespace="kubeflow"), obj("ConfigMap", "d")]
    assert duplicates(objects) == []
    assert duplicates(objects, default_namespace="kubeflow") == [ObjectRef("v1", "ConfigMap", "kubeflow", "c")]


def test_namespaces_of_lists_only_namespace_objects():
    assert namespaces_of([obj("Namespace", "b"), obj("Namespace", "a"), obj("ConfigMap", "c")]) == ["a", "b"]


# ---------------------------------------------------------------- labels and parsing


def test_with_labels_adds_ours_keeps_theirs_and_does_not_touch_the_input():
    original = obj("ConfigMap", "c", namespace="n")
    original["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm", "app": "x"}
    labelled = with_labels(original, "kubeflow")
    assert labelled["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "Helm",
        "app": "x",
        MANAGED_BY_LABEL: "kfbootstrap",
        COMPONENT_LABEL: "kubeflow",
    }
    assert original["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm", "app": "x"}


def test_parse_manifests_skips_empty_documents_and_unwraps_lists():
    text = (
        "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    )
    assert [(o["kind"], o["metadata"]["name"]) for o in parse_manifests(text)] == [("ConfigMap", "a"), ("Secret", "s")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n", "line"),
        ("- a\n- b\n", "not an object"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "lacks"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "lacks"),
    ],
)
def test_parse_manifests_rejects_what_cannot_be_applied(text, message):
    with pytest.raises(ManifestError) as caught:
        parse_manifests(text, origin="kserve.yaml")
    assert message in caught.value.message and "kserve.yaml" in caught.value.message


def test_generate_name_gets_its_own_hint():
    with pytest.raises(ManifestError) as caught:
        parse_manifests("apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\n")
    assert "generateName" in caught.value.hint


# ---------------------------------------------------------------- refusals


def status(message: str, code: int, details: dict | None = None) -> bytes:
    return json.dumps(
        {"kind": "Status", "status": "Failure", "message": message, "code": code, "details": details or {}}
    ).encode()


@pytest.mark.parametrize(
    "code, body, reason",
    [
        (
            500,
            status(
                'Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: '
                'Post "https://cert-manager-webhook.cert-manager.svc:443/validate": no endpoints available for '
                'service "cert-manager-webhook"',
                500,
            ),
            retry.WEBHOOK_NOT_READY,
        ),
        (
            500,
            status(
                'failed calling webhook "x": Post "https://127.0.0.1:1/v": dial tcp 127.0.0.1:1: connect: '
                "connection refused",
                500,
            ),
            retry.WEBHOOK_NOT_READY,
        ),
        (
            500,
            status(
                'failed calling webhook "x": tls: failed to verify certificate: x509: certificate signed by '
                "unknown authority",
                500,
            ),
            retry.WEBHOOK_NOT_READY,
        ),
        (
            500,
            status(
                "conversion webhook for kubeflow.org/v1alpha1, Kind=PVCViewer failed: Post ... connection refused", 500
            ),
            retry.WEBHOOK_NOT_READY,
        ),
        (400, status('admission webhook "vx.kserve.io" denied the request: bad runtime', 400), retry.DENIED),
        (
            404,
            status('namespaces "kubeflow" not found', 404, {"name": "kubeflow", "kind": "namespaces"}),
            retry.NAMESPACE_MISSING,
        ),
        (404, status("the server could not find the requested resource", 404), retry.KIND_NOT_SERVED),
        (
            403,
            status(
                'configmaps "c" is forbidden: unable to create new content in namespace kubeflow because it is '
                "being terminated",
                403,
            ),
            retry.NAMESPACE_TERMINATING,
        ),
        (403, status('configmaps is forbidden: User "bob" cannot patch resource', 403), retry.FORBIDDEN),
        (409, status("Operation cannot be fulfilled", 409), retry.CONFLICT),
        (429, status("too many requests", 429), retry.SERVER_BUSY),
        (503, b"<html>service unavailable</html>", retry.SERVER_BUSY),
        (0, b"Connection refused", retry.SERVER_BUSY),
        (422, status('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1', 422), retry.INVALID),
        (400, status("json: cannot unmarshal string into Go struct field", 400), retry.INVALID),
        (401, status("Unauthorized", 401), retry.UNAUTHORIZED),
        (418, b"teapot", retry.OTHER),
    ],
)
def test_classify(code, body, reason):
    verdict = retry.classify(code, body)
    assert verdict.reason == reason
    assert verdict.message  # the server's words reach the failure table


@pytest.mark.parametrize(
    "reason, attempts, allowed",
    [
        (retry.WEBHOOK_NOT_READY, 1000, True),
        (retry.KIND_NOT_SERVED, 50, True),
        (retry.DENIED, 5, True),
        (retry.DENIED, 6, False),
        (retry.CONFLICT, 6, False),
        (retry.INVALID, 1, False),
        (retry.FORBIDDEN, 1, False),
    ],
)
def test_retry_limits(reason, attempts, allowed):
    assert retry.Verdict(reason, "m").allows_attempt(attempts) is allowed


def test_backoff_grows_is_capped_and_jittered():
    rand = random.Random(1)
    plain = [retry.backoff(n, jitter=0) for n in range(1, 10)]
    assert plain[:5] == [0.5, 1.0, 2.0, 4.0, 8.0] and max(plain) == 8.0
    jittered = {round(retry.backoff(3, rand=rand), 3) for _ in range(20)}
    assert len(jittered) > 10 and all(1.6 <= d <= 2.4 for d in jittered)


# ---------------------------------------------------------------- CRDs


@pytest.mark.parametrize(
    "conditions, state",
    [
        ([], None),
        ([{"type": "NamesAccepted", "status": "True"}], None),
        ([{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}], "established"),
        (
            [{"type": "NamesAccepted", "status": "False", "message": "kind Foo is already in use"}],
            "names not accepted: kind Foo is already in use",
        ),
    ],
)
def test_crd_state(conditions, state):
    assert crd_state({"status": {"conditions": conditions}}) == state


@pytest.mark.parametrize(
    "versions, oldest",
    [
        ({"a": "120", "b": "99", "c": "1000"}, "99"),
        ({"a": "12", "b": None}, None),
        ({"a": "opaque-etcd-version"}, None),
        ({}, None),
    ],
)
def test_oldest_version_compares_numbers_only(versions, oldest):
    assert oldest_version(versions) == oldest


# ---------------------------------------------------------------- report


def test_failure_table_and_error_name_each_object_reason_and_message():
    report = ApplyReport(
        "kubeflow",
        [
            ObjectResult(ObjectRef("v1", "ConfigMap", "kubeflow", "ok"), PHASE_MAIN, applied=True, attempts=1),
            ObjectResult(
                ObjectRef("cert-manager.io/v1", "Certificate", "kubeflow", "c"),
                PHASE_MAIN,
                attempts=40,
                verdict=retry.Verdict(retry.WEBHOOK_NOT_READY, 'failed calling webhook "w": no endpoints'),
            ),
            ObjectResult(
                ObjectRef("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", None, "v"),
                PHASE_WEBHOOKS,
            ),
        ],
        timed_out=True,
    )
    assert (report.total, report.applied, report.ok) == (3, 1, False)
    error = ApplyFailed(report, timeout=1200)
    assert error.message.startswith(
        "2 of 3 objects of kubeflow did not apply within 1200s: 1 webhook not ready, 1 not attempted; "
        "the table above names them (every row: "
    )
    assert "Certificate/kubeflow/c" in error.details and "webhook not ready" in error.details
    assert "40" in error.details and "no endpoints" in error.details
    assert "ValidatingWebhookConfiguration/v" in error.details and "not attempted" in error.details
    assert "kubectl get pods" in error.hint
    assert error.exit_code == 1


def _long_failure() -> ApplyReport:
    """What a 26.03.1 install left at the deadline: two objects refused by a webhook with no endpoints, one
    invalid, and 60 webhook configurations and custom resources that never got their turn (their names sort
    before the others', as `admissionregistration…` and `cert-manager.io` do)."""
    refused = [
        ObjectResult(
            ObjectRef("kubeflow.org/v1alpha1", "PodDefault", "kubeflow", f"pd-{i}"),
            PHASE_MAIN,
            attempts=37,
            verdict=retry.Verdict(
                retry.WEBHOOK_NOT_READY,
                'Internal error occurred: failed calling webhook "poddefaults.kubeflow.org": failed to call webhook: '
                'Post "https://poddefaults-webhook.kubeflow.svc:443/apply-poddefault?timeout=10s": no endpoints '
                'available for service "poddefaults-webhook"',
            ),
        )
        for i in range(2)
    ]
    invalid = ObjectResult(
        ObjectRef("apps/v1", "Deployment", "kubeflow", "zz-bad"),
        PHASE_MAIN,
        attempts=1,
        verdict=retry.Verdict(retry.INVALID, 'Deployment.apps "zz-bad" is invalid: spec.replicas: must be >= 0'),
    )
    waiting = [
        ObjectResult(
            ObjectRef("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", None, f"a{i:02}"),
            PHASE_WEBHOOKS,
        )
        for i in range(60)
    ]
    return ApplyReport("kubeflow", [*waiting, *refused, invalid], timed_out=True)


def test_rows_that_explain_a_failure_come_before_not_attempted_ones():
    table = _long_failure().failure_table().splitlines()
    assert len(table) == 1 + 30 + 1
    reasons = [line.split("  ")[2].strip() for line in table[1:4] if "  " in line]
    assert "Deployment/kubeflow/zz-bad" in table[1] and "invalid" in table[1]
    assert "PodDefault/kubeflow/pd-0" in table[2] and "webhook not ready" in table[2] and "no endpoints" in table[2]
    assert "PodDefault/kubeflow/pd-1" in table[3] and len(reasons) == 3
    assert all("not attempted" in line for line in table[4:31])
    assert table[-1].startswith("  … and 33 more, 33 of them not attempted: every row is in ")
    assert table[-1].endswith("kfbootstrap.log")


def test_a_long_failure_is_never_cut_before_its_cause(capsys):
    """The CLI cuts a message at 600 characters; the table goes above the error, whole up to its row limit."""
    from kfbootstrap.cli import app
    from kfbootstrap.context import RunContext
    from kfbootstrap.errors import StepFailed
    from kfbootstrap.pipeline import run_steps
    from kfbootstrap.steps.base import Step
    from tests.fakes import FakeRunner

    class Failing(Step):
        name = "kubeflow"
        title = "Install Kubeflow manifests"

        def is_done(self, ctx) -> bool:
            return False

        def run(self, ctx):
            raise ApplyFailed(_long_failure(), 1200)

    with pytest.raises(StepFailed) as raised:
        run_steps([Failing()], RunContext(config=load_config(None, {}, env={}).config, runner=FakeRunner()))
    app._print_error(raised.value.message, raised.value.hint)
    err = capsys.readouterr().err
    assert "more characters" not in err
    assert err.index("invalid") < err.index("webhook not ready") < err.index("not attempted")
    assert (
        "error: install kubeflow manifests: 63 of 63 objects of kubeflow did not apply within 1200s: 1 invalid, "
        "2 webhook not ready, 60 not attempted; the table above names them" in err
    )


def test_summary_counts_objects_that_needed_retries():
    results = [
        ObjectResult(ObjectRef("v1", "ConfigMap", "n", str(i)), PHASE_MAIN, applied=True, attempts=1 + (i == 0))
        for i in range(3)
    ]
    assert ApplyReport("x", results).summary() == "3/3 objects, 1 after retries"


# ---------------------------------------------------------------- deletion order


def test_deletion_order_webhooks_first_crds_last_namespaced_left_to_their_namespace():
    refs = [
        ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.e.com"),
        ObjectRef("v1", "Namespace", None, "kubeflow"),
        ObjectRef("v1", "ConfigMap", "kubeflow", "inside"),
        ObjectRef("v1", "ConfigMap", "kube-system", "outside"),
        ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", None, "role"),
        ObjectRef("e.com/v1", "Widget", "kubeflow", "w"),
        ObjectRef("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", None, "v"),
    ]
    stages = dict(zip(ORDER, plan_deletion(refs)))
    assert [r.name for r in stages["webhook configurations"]] == ["v"]
    assert [r.name for r in stages["custom resources"]] == ["w"]  # while its controller still runs
    assert sorted(r.name for r in stages["other objects"]) == ["outside", "role"]
    assert [r.name for r in stages["namespaces"]] == ["kubeflow"]
    assert [r.name for r in stages["CRDs"]] == ["widgets.e.com"]
    assert deletion_stage(refs[2]) == 2


@pytest.mark.parametrize(
    "role, keeps_rules",
    [
        ({"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}, "rules": []}, False),
        ({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, True),
    ],
)
def test_for_apply_leaves_aggregated_rules_to_the_controller(role, keeps_rules):
    cluster_role = obj("ClusterRole", "r", "rbac.authorization.k8s.io/v1", **role)
    sent = for_apply(cluster_role, "kubeflow")
    assert ("rules" in sent) is keeps_rules
    assert "rules" in cluster_role  # the render itself is untouched
    assert sent["metadata"]["labels"][COMPONENT_LABEL] == "kubeflow"


# ---------------------------------------------------------------- discovery cache


class ListingRest:
    """Answers group/version discovery from a dict; counts the requests (the API server's side is tested live)."""

    def __init__(self, kinds_by_gv: dict[str, list[str]], during_fetch=None):
        self.kinds_by_gv = kinds_by_gv
        self.during_fetch = during_fetch
        self.calls = 0

    def get_json(self, path, **_):
        self.calls += 1
        if self.during_fetch:
            self.during_fetch()
        gv = path.removeprefix("/apis/").removeprefix("/api/")
        if gv not in self.kinds_by_gv:
            return None
        return {
            "resources": [{"name": k.lower() + "s", "kind": k, "namespaced": True} for k in self.kinds_by_gv[gv]]
            + [{"name": "widgets/status", "kind": "Widget", "namespaced": True}]
        }


def test_discovery_caches_refreshes_at_most_once_a_second_and_says_what_is_missing():
    from kfbootstrap.kube.discovery import Discovery, KindNotServed

    now = [100.0]
    rest = ListingRest({"e.com/v1": ["Gadget"]})
    discovery = Discovery(rest, clock=lambda: now[0])
    assert discovery.resource("e.com/v1", "Gadget").object_path("ns", "g") == "/apis/e.com/v1/namespaces/ns/gadgets/g"
    with pytest.raises(KindNotServed, match="has no kind Widget"):
        discovery.resource("e.com/v1", "Widget", refresh=True)
    assert rest.calls == 1  # cached answer is younger than a second
    rest.kinds_by_gv["e.com/v1"].append("Widget")
    now[0] += 1.5
    assert discovery.resource("e.com/v1", "Widget", refresh=True).plural == "widgets"
    assert rest.calls == 2
    with pytest.raises(KindNotServed, match="no API group/version"):
        discovery.resource("other.com/v1", "Thing")


def test_discovery_does_not_cache_an_answer_invalidated_while_it_was_fetched():
    from kfbootstrap.kube.discovery import Discovery, KindNotServed

    discovery: Discovery
    rest = ListingRest({"e.com/v1": ["Gadget"]}, during_fetch=lambda: discovery.invalidate("e.com/v1"))
    discovery = Discovery(rest)
    with pytest.raises(KindNotServed):
        discovery.resource("e.com/v1", "Widget")
    rest.during_fetch = None
    rest.kinds_by_gv["e.com/v1"].append("Widget")  # the CRD became Established meanwhile
    assert discovery.resource("e.com/v1", "Widget").kind == "Widget"  # fetched again, not the stale answer


def test_custom_resources_of_crds_in_the_set_need_no_discovery():
    from kfbootstrap.kube.discovery import Discovery, crd_resources

    widgets = crd("e.com", "Widget", "widgets", ("v1alpha1", "v1"))
    widgets["spec"]["scope"] = "Cluster"
    rest = ListingRest({})
    discovery = Discovery(rest, known=crd_resources(widgets))
    resource = discovery.resource("e.com/v1alpha1", "Widget")
    assert (resource.plural, resource.namespaced, rest.calls) == ("widgets", False, 0)
    assert resource.object_path(None, "w") == "/apis/e.com/v1alpha1/widgets/w"
    assert crd_resources({"spec": {}}) == []
