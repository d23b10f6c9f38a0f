"""The pure parts of upgrading: ApplySet ids, immutable-field prediction, CRD migration needs, release steps, order."""

from __future__ import annotations

import base64
import hashlib

from kfbootstrap.kube.applyset import Record, applyset_id, group_kind, object_digest, parent_name
from kfbootstrap.kube.crd_migration import intermediate, needed
from kfbootstrap.kube.immutable import predicted, refused_as_immutable, why
from kfbootstrap.kube.objects import ObjectRef
from kfbootstrap.releases import RELEASES, is_older
from kfbootstrap.upgrade.plan import pending_steps


def test_applyset_id_follows_kep_3659():
    digest = hashlib.sha256(b"kfbootstrap-kubeflow-applyset.kube-system.ConfigMap.").digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert applyset_id(parent_name("kubeflow"), "kube-system") == expected == Record("kubeflow").id
    assert "=" not in expected and len(expected) <= 63  # a label value


def test_group_kinds_and_digests():
    assert group_kind(ObjectRef("apps/v1", "Deployment", "ns", "x")) == "Deployment.apps"
    assert group_kind(ObjectRef("v1", "ConfigMap", "ns", "x")) == "ConfigMap"
    assert object_digest({"a": 1, "b": 2}) == object_digest({"b": 2, "a": 1}) != object_digest({"a": 2, "b": 2})


def _deployment(selector):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"selector": {"matchLabels": selector}}}


def test_immutable_fields_are_predicted_only_where_they_change():
    assert predicted(_deployment({"app": "a"}), _deployment({"app": "b"})) == ["spec.selector"]
    assert predicted(_deployment({"app": "a"}), _deployment({"app": "a"})) == []
    binding = {"kind": "ClusterRoleBinding", "roleRef": {"kind": "ClusterRole", "name": "new"}}
    assert predicted({"roleRef": {"kind": "ClusterRole", "name": "old"}}, binding) == ["roleRef"]
    assert predicted({}, {"kind": "ConfigMap", "data": {}}) == []


def test_claim_templates_compare_what_was_sent_not_server_defaults():
    sent = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    live = {**sent, "spec": {**sent["spec"], "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}
    sts = {"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [sent]}}
    assert predicted({"spec": {"volumeClaimTemplates": [live]}}, sts) == []
    bigger = {**sent, "spec": {**sent["spec"], "resources": {"requests": {"storage": "2Gi"}}}}
    assert predicted(
        {"spec": {"volumeClaimTemplates": [live]}}, {**sts, "spec": {"volumeClaimTemplates": [bigger]}}
    ) == ["spec.volumeClaimTemplates"]


def test_the_api_s_immutable_refusals_are_recognised_and_named():
    deployment = (
        'Deployment.apps "x" is invalid: spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable'
    )
    assert refused_as_immutable(deployment) and why(deployment) == "spec.selector is immutable"
    binding = 'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: ...: cannot change roleRef'
    assert refused_as_immutable(binding) and why(binding) == "roleRef is immutable"
    assert not refused_as_immutable('Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1')


def _crd(*versions, storage):
    return {
        "metadata": {"name": "widgets.example.com"},
        "spec": {"versions": [{"name": v, "served": True, "storage": v == storage} for v in versions]},
    }


def test_a_migration_is_needed_when_stored_versions_are_not_just_the_storage_version():
    live = {**_crd("v1", storage="v1"), "status": {"storedVersions": ["v1"]}}
    assert needed(None, _crd("v1", "v2", storage="v2")) is None  # a fresh CRD
    assert needed(live, _crd("v1", storage="v1")) is None
    kept = needed(live, _crd("v1", "v2", storage="v2"))
    assert kept is not None and (kept.stored, kept.storage, kept.dropped) == (("v1",), "v2", ())
    dropped = needed(live, _crd("v2", storage="v2"))
    assert dropped is not None and dropped.dropped == ("v1",)
    bridge = intermediate(_crd("v2", storage="v2"), live, dropped.dropped)
    assert [(v["name"], v["served"], v["storage"]) for v in bridge["spec"]["versions"]] == [
        ("v2", True, True),
        ("v1", False, False),
    ]


def test_release_order_and_the_26_03_1_steps_run_once():
    assert is_older("26.03", "26.03.1") and not is_older("26.03.1", "26.03") and not is_older("26.03", "26.03")
    steps = RELEASES["26.03.1"].upgrade_steps
    assert [s.name for s in pending_steps(Record("kubeflow", release="26.03"), "26.03.1")] == [s.name for s in steps]
    half = Record("kubeflow", release="26.03", steps_done=[steps[0].name])
    assert [s.name for s in pending_steps(half, "26.03.1")] == [s.name for s in steps[1:]]
    assert pending_steps(Record("kubeflow", release="v1.11.0"), "26.03.1") == []  # written for 26.03 only
    assert pending_steps(None, "26.03.1") == []
    dashboard = next(s for s in steps if s.name == "26.03.1/old-dashboard")
    assert "CustomResourceDefinition/profiles.kubeflow.org" in dashboard.never
    assert not any(kind == "CustomResourceDefinition" for _, kind, _, _ in dashboard.deletes)
