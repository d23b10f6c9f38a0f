"""The platform the stop/start e2e test and bench/stop_start.py pause and resume: a cluster kfbootstrap
created with a 'Kubeflow' that is a pre-rendered file (so `up` applies it and writes its render marker)
holding our echo server behind a Service, and a PVC held by a pod, with a file written into its volume."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = "e2e-paused"
SERVICE = "grafana"  # a Service named like a target, so `expose grafana -n NAMESPACE` forwards it
PAYLOAD = "kept across stop and start\n"


def render(image: str) -> str:
    labels = {"app": "echo"}
    container = {"name": "echo", "image": image, "imagePullPolicy": "Never"}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": NAMESPACE},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}},
        },
        _deployment(
            "echo",
            labels,
            {
                **container,
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
            },
            replicas=2,
        ),
        _deployment(
            "holder",
            {"app": "holder"},
            {**container, "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    ]
    return yaml.safe_dump_all(objects, sort_keys=False)


def _deployment(name, labels, container, replicas=1, volumes=None) -> dict[str, Any]:
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 5, "containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def platform_config(root: Path, image: str) -> dict[str, Any]:
    """The config keys that make the render above this cluster's Kubeflow (profile pipelines: 2 CPUs suffice)."""
    path = root / "rendered.yaml"
    path.write_text(render(image))
    return {"profile": "pipelines", "kubeflow": {"path": str(path), "apps": None}, "timeouts": {"ready": 300}}


def volume_path(kubectl) -> tuple[str, str]:
    """(node, directory) of the PVC's volume: local-path keeps it in the node container's filesystem."""
    claim = json.loads(kubectl("-n", NAMESPACE, "get", "pvc", "data", "-o", "json").stdout)
    pv = json.loads(kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json").stdout)
    node = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
    return node, pv["spec"]["hostPath"]["path"]


def node_file(node: str, path: str, text: str | None = None) -> str | None:
    """Write (text given) or read a file inside a node container."""
    if text is not None:
        subprocess.run(["docker", "exec", "-i", node, "sh", "-c", f"cat > '{path}'"], input=text, text=True, check=True)
        return text
    done = subprocess.run(["docker", "exec", node, "cat", path], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def marker(kubectl) -> dict[str, Any]:
    data = json.loads(kubectl("-n", "kube-system", "get", "configmap", "kfbootstrap-state", "-o", "json").stdout)
    return json.loads(data["data"]["kubeflow"])


def nodes_running(name: str) -> dict[str, bool]:
    names = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={name}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        n: subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", n], capture_output=True, text=True
        ).stdout.strip()
        == "true"
        for n in names
    }


def address(node: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", node],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
