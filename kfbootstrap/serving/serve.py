"""Serve one model: check what the cluster offers, copy the model, apply the InferenceService,
wait for it, forward to it. Every step is idempotent, so a re-run (or a killed run's re-run)
finishes the job and the same model again changes nothing."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError, UsageError
from kfbootstrap.kube.api import NAMESPACES
from kfbootstrap.serving.forward import ensure_forward
from kfbootstrap.serving.kserve_cluster import (
    INFERENCE_SERVICES,
    KServe,
    authorization_policies,
    find_kserve,
    istio_policy_version,
    runtime_for,
    runtimes,
)
from kfbootstrap.serving.manifests import (
    DIGEST_ANNOTATION,
    MANAGED_BY,
    OURS,
    authorization_policy,
    copy_uri,
    inference_service,
)
from kfbootstrap.serving.model_files import read_model
from kfbootstrap.serving.model_volume import ensure_copy
from kfbootstrap.serving.ready import Readiness, wait_served

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

FIELD_MANAGER = "kfbootstrap-serve"
# A DNS-1035 label short enough for what KServe and we derive from it (NAME-predictor-…, kfb-model-NAME-copy).
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 40


@dataclass(frozen=True)
class ServeRequest:
    source: str  # a local file or directory, or a storage URI KServe reads itself (gs://, s3://, https://)
    name: str
    model_format: str | None
    namespace: str
    port: int | None
    timeout: float


@dataclass(frozen=True)
class Served:
    name: str
    namespace: str
    model_format: str
    runtime: str
    kserve: KServe
    url: str  # the forward's base URL ("" without one)
    copied: bool  # new model files went to the cluster
    forward_started: bool
    seconds: float

    @property
    def predict_url(self) -> str:
        return f"{self.url}:predict"


class NotServing(KfbError):
    """The InferenceService did not become ready in time; `readiness` says what was missing."""

    def __init__(self, message: str, hint: str, readiness: Readiness):
        super().__init__(message, hint=hint)
        self.readiness = readiness


def is_uri(source: str) -> bool:
    return "://" in source


def check_name(name: str) -> None:
    if not _NAME.match(name) or len(name) > MAX_NAME:
        raise UsageError(
            f"{name!r} cannot name an InferenceService",
            hint=f"use at most {MAX_NAME} lower-case letters, digits and '-', starting with a letter, e.g. iris",
        )


def serve(
    kube: "Kube", config: Config, request: ServeRequest, progress: Callable[[str], None], forward: bool = True
) -> Served:
    """Serve the model and wait until it answers; with `forward`, start (or keep) its background forward."""
    started = time.monotonic()
    check_name(request.name)
    model = None if is_uri(request.source) else read_model(Path(request.source))
    model_format = request.model_format or (model.guess_format() if model else None)
    if model_format is None:
        raise UsageError(
            f"cannot tell the model format of {request.source}", hint="pass --format, e.g. --format sklearn"
        )
    kserve = kserve_for(kube, config)
    _check_namespace(kube, request.namespace)
    runtime = runtime_for(runtimes(kube, request.namespace), model_format)
    current = kube.get(INFERENCE_SERVICES, request.name, request.namespace)
    refuse_unless_ours(current, request.name, request.namespace)
    copied = False
    if model is None:
        storage_uri, digest = request.source, hashlib.sha256(request.source.encode()).hexdigest()[:12]
    else:
        keep = ((current or {}).get("metadata", {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
        if keep != model.digest:  # the same files are served already: their copy is there, no pod needed
            copied = ensure_copy(kube, request.name, request.namespace, model, runtime.image, keep, progress)
        storage_uri, digest = copy_uri(request.name, model.digest), model.digest
    policy_version = istio_policy_version(kube)
    if policy_version is not None:
        policy = authorization_policy(request.name, request.namespace, policy_version)
        kube.apply(
            authorization_policies(policy_version), policy, field_manager=FIELD_MANAGER, namespace=request.namespace
        )
    isvc = inference_service(request.name, request.namespace, model_format, storage_uri, digest, kserve.raw_mode)
    kube.apply(INFERENCE_SERVICES, isvc, field_manager=FIELD_MANAGER, namespace=request.namespace)
    state = wait_served(kube, request.name, request.namespace, storage_uri, request.timeout, progress)
    if not state.ready:
        raise NotServing(
            f"InferenceService {request.namespace}/{request.name} is not ready after {request.timeout:.0f}s: "
            f"{state.detail}",
            hint=f"re-run `kfbootstrap serve` to wait again; `kubectl -n {request.namespace} describe "
            f"inferenceservice {request.name}` shows KServe's view",
            readiness=state,
        )
    url, forward_started = "", False
    if forward:
        found, forward_started = ensure_forward(kube, config, request.name, request.namespace, request.port)
        url = found.url
    return Served(
        request.name,
        request.namespace,
        model_format,
        runtime.name,
        kserve,
        url,
        copied,
        forward_started,
        time.monotonic() - started,
    )


def kserve_for(kube: "Kube", config: Config) -> KServe:
    """The cluster's KServe. When it is missing and the config does not install it either, say both."""
    try:
        return find_kserve(kube)
    except KfbError as exc:
        if "kserve" in config.components.enabled():
            raise
        raise UsageError(
            "KServe is not installed on this cluster, and your config does not install it "
            "(components.kserve is off, or kserve is not in kubeflow.apps)",
            hint="add kserve to kubeflow.apps (or set components.kserve: true), then run `kfbootstrap up`",
        ) from exc


def refuse_unless_ours(isvc: dict | None, name: str, namespace: str) -> None:
    if isvc is not None and (isvc["metadata"].get("labels") or {}).get(MANAGED_BY) != OURS:
        raise UsageError(
            f"an InferenceService {namespace}/{name} exists that kfbootstrap did not create; it is left alone",
            hint="choose another --name, or delete that one with kubectl first",
        )


def _check_namespace(kube: "Kube", namespace: str) -> None:
    if kube.get(NAMESPACES, namespace) is None:
        raise UsageError(
            f"namespace {namespace} does not exist",
            hint="pass --namespace (e.g. your Kubeflow profile's namespace), or set serve.namespace",
        )
