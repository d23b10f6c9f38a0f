"""The objects `serve` creates for one model, all labelled as ours and named after it.

For model NAME in a namespace: the PVC `kfb-model-NAME` holding its copy (one directory per
model digest), a short-lived pod `kfb-model-NAME-copy` that receives it, the InferenceService
NAME, and where Istio runs, the AuthorizationPolicy `kfb-model-NAME` that lets requests reach the
predictor (a profile namespace denies everything else by default).
"""

from __future__ import annotations

import math
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
OURS = "kfbootstrap"
MODEL_LABEL = "kfbootstrap.io/served-model"
DIGEST_ANNOTATION = "kfbootstrap.io/model-digest"
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
ISVC_LABEL = "serving.kserve.io/inferenceservice"  # what KServe puts on the predictor's pods
MODELS_MOUNT = "/models"
COPY_POD_SECONDS = 3600  # the copy pod ends itself even if `serve` is killed
GIB = 1024**3


def claim_name(name: str) -> str:
    return f"kfb-model-{name}"


def copy_pod_name(name: str) -> str:
    return f"kfb-model-{name}-copy"


def labels(name: str) -> dict[str, str]:
    return {MANAGED_BY: OURS, MODEL_LABEL: name}


def model_claim(name: str, namespace: str, model_bytes: int) -> dict[str, Any]:
    """Room for two revisions of the model while one rolls out (at least 1 GiB)."""
    size = max(1, math.ceil(2 * model_bytes / GIB))
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim_name(name), "namespace": namespace, "labels": labels(name)},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{size}Gi"}}},
    }


def copy_pod(name: str, namespace: str, image: str) -> dict[str, Any]:
    """A pod of the serving runtime's own image (it is pulled for the predictor anyway) that only waits
    while the model is copied in through exec; it exits by itself after COPY_POD_SECONDS."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": copy_pod_name(name),
            "namespace": namespace,
            "labels": labels(name),
            "annotations": {"sidecar.istio.io/inject": "false"},
        },
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": COPY_POD_SECONDS,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "copy",
                    "image": image,
                    "command": ["sleep", str(COPY_POD_SECONDS)],
                    "volumeMounts": [{"name": "model", "mountPath": MODELS_MOUNT}],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                }
            ],
            "volumes": [{"name": "model", "persistentVolumeClaim": {"claimName": claim_name(name)}}],
        },
    }


def copy_uri(name: str, digest: str) -> str:
    """Where the copy of model files with this digest lives."""
    return f"pvc://{claim_name(name)}/{digest}"


def inference_service(
    name: str, namespace: str, model_format: str, storage_uri: str, digest: str, raw_mode: str
) -> dict[str, Any]:
    """The InferenceService serving `storage_uri`: new model files are a new copy, a new storageUri, a new revision."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels(name),
            "annotations": {MODE_ANNOTATION: raw_mode, DIGEST_ANNOTATION: digest},
        },
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": model_format},
                    "storageUri": storage_uri,
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    },
                }
            }
        },
    }


def authorization_policy(name: str, namespace: str, api_version: str) -> dict[str, Any]:
    """Allow requests to the predictor's pods (Istio denies them in a Kubeflow profile namespace)."""
    return {
        "apiVersion": f"security.istio.io/{api_version}",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": claim_name(name), "namespace": namespace, "labels": labels(name)},
        "spec": {"selector": {"matchLabels": {ISVC_LABEL: name}}, "action": "ALLOW", "rules": [{}]},
    }
