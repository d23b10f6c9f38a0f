"""`down --keep-cluster`'s finder on the real API server: kinds outside their group's preferred version.

A group's preferred version need not serve all its kinds: MetalLB's metallb.io prefers
v1beta2, which has only BGPPeer, while IPAddressPool is v1beta1 only. Seen on the Kind test
ground: our IPAddressPool survived `down --keep-cluster`. Here two CRDs of one group make
the same shape: Gadget served as v1 (the preferred version), Widget only as v1alpha1.
"""

from __future__ import annotations

import pytest

from kfbootstrap.kube.cleanup import delete_managed
from kfbootstrap.kube.objects import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from kfbootstrap.kube.rest import KubeRest

pytestmark = pytest.mark.integration

GROUP = "cleanup.kfb.test"


def crd(kind: str, version: str) -> dict:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": kind + "List"},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def test_a_kind_only_in_a_non_preferred_version_is_deleted(testbed, namespace):
    testbed.apply([crd("Gadget", "v1"), crd("Widget", "v1alpha1")])
    testbed.wait_for_condition(f"crd/widgets.{GROUP}", "Established")
    testbed.wait_for_condition(f"crd/gadgets.{GROUP}", "Established")
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    testbed.apply(
        [
            {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Widget", "metadata": {"name": "ours", "labels": labels}},
            {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Widget", "metadata": {"name": "theirs"}},
        ],
        namespace=namespace,
    )

    report = delete_managed(KubeRest(testbed.api_client()))

    deleted = {(ref.kind, ref.name) for ref in report.deleted}
    assert ("Widget", "ours") in deleted and ("Widget", "theirs") not in deleted
    left = testbed.kubectl("get", f"widgets.{GROUP}", "-n", namespace, "-o", "name").stdout.split()
    assert left == [f"widget.{GROUP}/theirs"]
