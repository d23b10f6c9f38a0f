"""Wait until an InferenceService serves the model copy we asked for, and say why when it does not.

Ready means KServe's own Ready condition, and that the predictor Deployments whose pod template
names this storage URI are rolled out (a new revision answers, not the old one).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kfbootstrap.kube.api import DEPLOYMENTS
from kfbootstrap.kube.workloads import Workload, workload_from
from kfbootstrap.serving.kserve_cluster import INFERENCE_SERVICES
from kfbootstrap.serving.manifests import ISVC_LABEL

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str  # what is still missing, in KServe's words
    conditions: tuple[tuple[str, str, str], ...] = ()  # (type, reason, message) of the conditions not True
    predictors: tuple[Workload, ...] = ()


def readiness(kube: "Kube", name: str, namespace: str, storage_uri: str) -> Readiness:
    isvc = kube.get(INFERENCE_SERVICES, name, namespace) or {}
    failing = _failing_conditions(isvc)
    deployments = kube.items(DEPLOYMENTS, namespace, labels=f"{ISVC_LABEL}={name}")
    workloads = tuple(workload_from("deployment", d) for d in deployments)
    current = [d for d in deployments if storage_uri in json.dumps((d.get("spec") or {}).get("template"))]
    if not isvc:
        return Readiness(False, "the InferenceService is gone")
    ready_condition = _condition(isvc, "Ready")
    if ready_condition is None or ready_condition.get("status") != "True":
        first = failing[0] if failing else ("Ready", "", "KServe has not reported yet")
        return Readiness(False, f"{first[0]}: {first[2] or first[1]}", failing, workloads)
    if not current:
        return Readiness(False, "the predictor has not been updated to the new model yet", failing, workloads)
    if not all(workload_from("deployment", d).is_ready for d in current):
        return Readiness(False, "the new predictor pods are rolling out", failing, workloads)
    return Readiness(True, "ready", failing, workloads)


def wait_served(
    kube: "Kube",
    name: str,
    namespace: str,
    storage_uri: str,
    timeout: float,
    progress: Callable[[str], None] = lambda text: None,
) -> Readiness:
    """Poll until ready or `timeout` seconds; returns the last Readiness either way."""
    deadline = time.monotonic() + timeout
    while True:
        state = readiness(kube, name, namespace, storage_uri)
        if state.ready or time.monotonic() >= deadline:
            return state
        progress(state.detail)
        time.sleep(POLL_SECONDS)


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _failing_conditions(obj: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return tuple(
        (str(c.get("type")), str(c.get("reason") or ""), str(c.get("message") or ""))
        for c in conditions
        if c.get("status") != "True"
    )


def show_why(kube: "Kube", state: Readiness) -> None:
    """What `up` prints at its deadline, for this model: KServe's conditions that are not True,
    then why its predictor's pods are not ready (grouped by cause, with the pods' own messages)."""
    from kfbootstrap import ui
    from kfbootstrap.kube.readiness import explain
    from kfbootstrap.notready import NotReady, show

    for kind, reason, message in state.conditions:
        ui.err.print(f"  {kind}: {reason or 'False'} {message}".rstrip(), markup=False, highlight=False)
    waiting = [w for w in state.predictors if not w.is_ready]
    if waiting:
        show(NotReady.of(explain(kube, waiting)), ui.err, "the predictor")
