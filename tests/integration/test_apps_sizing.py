"""kubeflow.sizing on the real control plane: the pipelines profile applies Istio with laptop requests,
and a re-run with `sizing: upstream` puts upstream's values back (server-side apply, one field manager).

Input: the 26.03.1 example rendered with origin annotations, without webhook configurations
(tests/integration/test_apps_selection.py's module fixture), applied by the Kubeflow step as `up` does.
"""

from __future__ import annotations

import json

from kfbootstrap.release_parts import CATALOG_26_03_1 as CATALOG
from kfbootstrap.apps.select import select
from kfbootstrap.kube.apply import FIELD_MANAGER
from kfbootstrap.kube.rest import KubeRest
from tests.integration import test_apps_selection as selection
from tests.integration.test_apps_selection import _apply, _only
from tests.testbed.cluster import Testbed

shared_render = selection.render  # that module's fixture (the example render without webhooks), under this name here

ISTIO = "/apis/apps/v1/namespaces/istio-system/deployments"
HPA = "/apis/autoscaling/v2/namespaces/istio-system/horizontalpodautoscalers"
INJECTOR = "/api/v1/namespaces/istio-system/configmaps/istio-sidecar-injector"
CNI = "/apis/apps/v1/namespaces/kube-system/daemonsets/istio-cni-node"


def _requests(rest: KubeRest, path: str, container: str) -> dict:
    obj = rest.get_json(path)
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == container)["resources"]


def _sizes(rest: KubeRest) -> dict:
    """What the cluster holds of everything laptop sizing touches."""
    sidecar = json.loads(rest.get_json(INJECTOR)["data"]["values"])["global"]["proxy"]["resources"]
    return {
        "istiod": _requests(rest, f"{ISTIO}/istiod", "discovery"),
        "gateway": _requests(rest, f"{ISTIO}/istio-ingressgateway", "istio-proxy"),
        "cni": _requests(rest, CNI, "install-cni")["requests"],
        "hpa": {
            name: rest.get_json(f"{HPA}/{name}")["spec"]["maxReplicas"] for name in ("istiod", "istio-ingressgateway")
        },
        "sidecar": sidecar,
    }


def _spec_owners(rest: KubeRest, path: str) -> set[str]:
    """Field managers owning part of the spec (controllers writing only status are not)."""
    entries = rest.get_json(path)["metadata"].get("managedFields") or []
    return {e["manager"] for e in entries if not e.get("subresource") and "f:spec" in (e.get("fieldsV1") or {})}


def test_laptop_sizing_is_applied_and_a_rerun_with_upstream_sizing_restores_upstreams_values(
    testbed, shared_render, monkeypatch
):
    manifests, objects = shared_render
    pipelines = select(objects, CATALOG, ["pipelines"])
    with Testbed(testbed.bin_dir, testbed.stage_dir) as bed:
        rest = KubeRest(bed.api_client())
        # The pipelines profile (laptop sizing by default), on an empty cluster: one run, nothing else.
        note = _apply(bed, manifests, monkeypatch, None, profile="pipelines")
        assert note.startswith(f"{len(pipelines.objects)}/{len(pipelines.objects)} objects")
        _only(bed, objects, pipelines)
        laptop = _sizes(rest)
        assert laptop["istiod"] == {"requests": {"cpu": "10m", "memory": "100Mi"}}
        assert laptop["gateway"] == {
            "requests": {"cpu": "10m", "memory": "40Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        }  # the API server's canonical form
        assert laptop["cni"] == {"cpu": "10m", "memory": "40Mi"} and laptop["hpa"] == {
            "istiod": 1,
            "istio-ingressgateway": 1,
        }
        # The injector's default sidecar is what the render says: Istio's demo values already, left as rendered.
        assert laptop["sidecar"] == {
            "requests": {"cpu": "10m", "memory": "40Mi"},
            "limits": {"cpu": "2000m", "memory": "1024Mi"},
        }

        # Same choice, upstream's sizing: not skipped (the marker records the sizing), and upstream's values are back.
        _apply(bed, manifests, monkeypatch, None, profile="pipelines", **{"kubeflow.sizing": "upstream"})
        upstream = _sizes(rest)
        assert upstream["istiod"] == {"requests": {"cpu": "500m", "memory": "2Gi"}}
        assert upstream["gateway"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
        assert upstream["cni"] == {"cpu": "100m", "memory": "100Mi"} and upstream["hpa"] == {
            "istiod": 5,
            "istio-ingressgateway": 5,
        }
        assert upstream["sidecar"] == laptop["sidecar"]
        assert _spec_owners(rest, f"{ISTIO}/istiod") == {FIELD_MANAGER}  # one owner: nothing else holds the old values
        _only(bed, objects, pipelines)

        # And back to laptop: the switch works both ways.
        _apply(bed, manifests, monkeypatch, None, profile="pipelines")
        assert _sizes(rest) == laptop
