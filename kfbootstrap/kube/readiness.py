"""Wait until the Deployments, StatefulSets and DaemonSets of the enabled components are ready.

Three watches (one per kind, across namespaces, filtered here by each component's
scope, all through the adapter's one watch) keep a live picture instead of polling; every change re-evaluates it and
reports ready / total per namespace. At the deadline the caller gets the workloads
that are still not ready, and `explain` says why for each one by looking at its pods
the way a person would: Pending with the scheduler's message, ImagePullBackOff with
the image, CrashLoopBackOff with the last log lines, a failing readiness probe.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol, Sequence

from kfbootstrap.kube.causes import MISSING, Cause, creator_of, mount_cause, pod_cause, scheduler_reason
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.api import EVENTS, PODS
from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.rest import Cancel
from kfbootstrap.kube.workloads import Workload, list_workloads, resources, workload_from

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.readiness")

CERTIFICATES = Resource("cert-manager.io/v1", "Certificate", "certificates", True)

LOG_LINES = 5


class Scope(Protocol):
    """Which workloads the caller waits for. The caller passes them in (the components' descriptors
    say which workloads are whose: kfbootstrap/components.py's Scope is one), so this adapter knows
    nothing of components."""

    def matches(self, workload: Workload) -> bool: ...


def in_scope(workload: Workload, scopes: Sequence[Scope]) -> bool:
    return any(scope.matches(workload) for scope in scopes)


# ---------------------------------------------------------------- reading workloads


def per_namespace(workloads: Iterable[Workload]) -> dict[str, tuple[int, int]]:
    """{namespace: (ready workloads, all workloads)}, sorted by namespace."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for workload in workloads:
        counts[workload.namespace][1] += 1
        counts[workload.namespace][0] += workload.is_ready
    return {ns: (ready, total) for ns, (ready, total) in sorted(counts.items())}


def snapshot(kube: "Kube", scopes: Sequence[Scope]) -> list[Workload]:
    """The workloads in scope right now (three list calls)."""
    return [w for w in list_workloads(kube) if in_scope(w, scopes)]


# ---------------------------------------------------------------- waiting


@dataclass
class WaitResult:
    workloads: list[Workload]
    seconds: float

    @property
    def not_ready(self) -> list[Workload]:
        return [w for w in self.workloads if not w.is_ready]

    @property
    def ok(self) -> bool:
        return not self.not_ready


Progress = Callable[[list[Workload]], None]


def wait_ready(
    kube: "Kube",
    scopes: Sequence[Scope],
    timeout: float,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
    """Watch until every workload in `scopes` is ready or `timeout` seconds pass.

    One watch thread per kind, all on the run's adapter. `progress` gets the current
    workloads after each change. Never raises on a timeout: the result says what is
    not ready; API errors that waiting cannot fix raise their KubeError.
    """
    started = clock()
    events: queue.Queue = queue.Queue()
    cancel = Cancel()
    deadline = time.monotonic() + timeout
    threads = [
        threading.Thread(
            target=_watch_kind,
            args=(kube, kind, resource, events, cancel, deadline),
            name=f"kfb-ready-{kind}",
            daemon=True,
        )
        for kind, resource in resources().items()
    ]
    for thread in threads:
        thread.start()
    state: dict[tuple[str, str, str], Workload] = {}
    synced: set[str] = set()
    try:
        while True:
            remaining = timeout - (clock() - started)
            changed = _drain(events, state, synced, scopes, min(max(remaining, 0.0), 1.0))
            current = sorted(state.values(), key=lambda w: (w.namespace, w.kind, w.name))
            if len(synced) == len(threads):
                if changed and progress is not None:
                    progress(current)
                if all(w.is_ready for w in current):
                    return WaitResult(current, clock() - started)
            if remaining <= 0:
                return WaitResult(current, clock() - started)
    finally:
        cancel.set()
        for thread in threads:
            thread.join(5)


def _drain(events: queue.Queue, state: dict, synced: set[str], scopes: Sequence[Scope], wait: float) -> bool:
    """Apply every queued event to `state`; True when something changed."""
    changed = False
    try:
        item = events.get(timeout=wait)
        while True:
            changed |= _apply_event(item, state, synced, scopes)
            item = events.get_nowait()
    except queue.Empty:
        return changed


def _apply_event(item: tuple[str, Any], state: dict, synced: set[str], scopes: Sequence[Scope]) -> bool:
    kind, event = item
    if isinstance(event, KfbError):
        raise event
    if event.type == "SYNC":  # a fresh list replaces everything known of this kind
        for key in [k for k in state if k[0] == kind]:
            del state[key]
        for obj in event.objects:
            _put(state, workload_from(kind, obj), scopes)
        synced.add(kind)
        return True
    workload = workload_from(kind, event.obj)
    key = (kind, workload.namespace, workload.name)
    if event.type == "DELETED":
        return state.pop(key, None) is not None
    return _put(state, workload, scopes)


def _put(state: dict, workload: Workload, scopes: Sequence[Scope]) -> bool:
    if not in_scope(workload, scopes):
        return False
    key = (workload.kind, workload.namespace, workload.name)
    before = state.get(key)
    state[key] = workload
    return before is None or (before.ready, before.desired, before.current) != (
        workload.ready,
        workload.desired,
        workload.current,
    )


def _watch_kind(
    kube: "Kube", kind: str, resource: "Resource", events: queue.Queue, cancel: Cancel, deadline: float
) -> None:
    """Feed one kind's events to the waiting thread; an error that waiting cannot fix ends it."""
    try:
        for event in kube.watch(resource, deadline=deadline + 5, cancel=cancel):
            events.put((kind, event))
    except KfbError as exc:
        events.put((kind, exc))


# ---------------------------------------------------------------- explaining


@dataclass(frozen=True)
class Problem:
    """Why one workload is not ready, in the words `kubectl describe` would use, and the cause
    it may share with others (kfbootstrap/kube/causes.py groups by it)."""

    workload: Workload
    reason: str  # Pending, ImagePullBackOff, CrashLoopBackOff, NotReady, NoPods, …
    detail: str
    cause: Cause | None = None


def explain(kube: "Kube", workloads: Sequence[Workload]) -> list[Problem]:
    """One Problem per workload, from its pods (and events when it has none)."""
    return [_explain_one(kube, workload) for workload in workloads]


def _explain_one(kube: "Kube", workload: Workload) -> Problem:
    try:
        obj = kube.get(resources()[workload.kind], workload.name, workload.namespace) or {}
        selector = label_selector((obj.get("spec") or {}).get("selector") or {})
        pods = kube.items(PODS, workload.namespace, labels=selector)
    except KfbError as exc:  # explaining must never hide the timeout itself
        return Problem(workload, "Unknown", f"could not read its pods: {exc.message}")
    for pod in sorted(pods, key=_pod_badness):
        problem = problem_of(workload, pod)
        if problem is not None:
            if problem.reason in CRASHED:
                problem = replace(problem, detail=_with_logs(kube, pod, problem.detail))
            if problem.cause is None and problem.reason == "Pending":  # not started: a volume may wait for a Secret
                mounting = mount_cause(_events(kube, workload.namespace), pod)
                if mounting is not None:
                    cause, message = mounting
                    problem = Problem(workload, "FailedMount", f"pod {_pod_name(pod)}: {message}", cause)
            return replace(problem, cause=_with_creator(kube, problem.cause))
    if not pods:
        return Problem(workload, "NoPods", _no_pods_reason(kube, workload))
    if not workload.current:
        return Problem(workload, "Progressing", "the controller has not rolled out the latest spec yet")
    return Problem(
        workload, "NotReady", f"{workload.ready}/{workload.desired} ready; pods look healthy, still starting"
    )


def problem_of(workload: Workload, pod: Mapping[str, Any]) -> Problem | None:
    """What one pod says about its workload (no API calls): reason, detail and cause; None when it is ready."""
    found = pod_problem(pod)
    if found is None:
        return None
    return Problem(workload, found[0], found[1], pod_cause(pod))


def label_selector(selector: Mapping[str, Any]) -> str:
    """A LabelSelector object as the string form the list API takes."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[op]
        )
    return ",".join(parts)


def _pod_badness(pod: Mapping[str, Any]) -> int:
    """Look at the most telling pod first: waiting containers, then unscheduled, then the rest."""
    problem = pod_problem(pod)
    order = {"CrashLoopBackOff": 0, "Restarting": 0, "ImagePullBackOff": 1, "ErrImagePull": 1, "Pending": 2}
    return order.get(problem[0], 3) if problem else 4


def pod_problem(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, detail) for a pod that is not ready, or None when it is ready."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    images = {
        c.get("name"): c.get("image")
        for c in ((pod.get("spec") or {}).get("containers") or [])
        + ((pod.get("spec") or {}).get("initContainers") or [])
    }
    name = (pod.get("metadata") or {}).get("name", "?")
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            reason = waiting["reason"]
            if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                return (
                    reason,
                    f"pod {name}: image {cs.get('image') or images.get(cs.get('name'))}: {waiting.get('message', '')}".rstrip(
                        ": "
                    ),
                )
            if reason == "CrashLoopBackOff":
                return reason, f"pod {name}: container {cs.get('name')} restarted {cs.get('restartCount', 0)} times"
            return reason, f"pod {name}: container {cs.get('name')}: {waiting.get('message', '')}".rstrip(": ")
    scheduled = conditions.get("PodScheduled")
    if status.get("phase") == "Pending" and scheduled and scheduled.get("status") == "False":
        return "Pending", f"pod {name}: {scheduler_reason(scheduled.get('message') or scheduled.get('reason') or '')}"
    if status.get("phase") in ("Failed", "Unknown"):
        return status["phase"], f"pod {name}: {status.get('reason', '')} {status.get('message', '')}".strip()
    ready = conditions.get("Ready")
    if ready and ready.get("status") == "True":
        return None
    if status.get("phase") == "Pending":
        return "Pending", f"pod {name}: {(ready or {}).get('message') or 'containers are being created'}"
    not_ready = [cs for cs in status.get("containerStatuses") or [] if not cs.get("ready")]
    restarted = _restarted_after_a_crash(not_ready)
    if restarted is not None:
        return "Restarting", f"pod {name}: {restarted}"
    return (
        "NotReady",
        f"pod {name}: container {', '.join(str(cs.get('name')) for cs in not_ready) or '?'} running but not ready "
        "(readiness probe failing?)",
    )


def _restarted_after_a_crash(statuses: Sequence[Mapping[str, Any]]) -> str | None:
    """Between two crashes of a crash loop the container runs again: say that it crashed, and how."""
    for cs in statuses:
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if cs.get("restartCount") and last.get("exitCode"):
            return (
                f"container {cs.get('name')} restarted {cs['restartCount']} times "
                f"(last exit code {last['exitCode']}, {last.get('reason') or 'Error'}); running again, not ready"
            )
    return None


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", "?"))


def _events(kube: "Kube", namespace: str) -> list[dict[str, Any]]:
    try:
        return kube.items(EVENTS, namespace)
    except KfbError:
        return []


def _with_creator(kube: "Kube", cause: Cause | None) -> Cause | None:
    """A missing Secret that a cert-manager Certificate makes: say which one (one list call)."""
    if cause is None or cause.key[:2] != (MISSING, "Secret"):
        return cause
    namespace, name = cause.key[2], cause.key[3]
    try:
        certificates = kube.items(CERTIFICATES, namespace)
    except KfbError:  # cert-manager is not installed, or we may not read its objects
        return cause
    for certificate in certificates:
        if (certificate.get("spec") or {}).get("secretName") == name:
            made_by = str((certificate.get("metadata") or {}).get("name") or "")
            return replace(cause, hint=creator_of("Secret", namespace, name, made_by))
    return cause


# The kubelet answers with this text (and 200) when a container's log file is gone already.
NO_LOGS_ANSWER = "unable to retrieve container logs"
CRASHED = ("CrashLoopBackOff", "Restarting")  # reasons whose detail gains the container's last log lines


def _with_logs(kube: "Kube", pod: Mapping[str, Any], detail: str) -> str:
    """Add the last log lines of the crashing container (its previous run, else the current one)."""
    meta = pod.get("metadata") or {}
    crashing = next(
        (
            cs.get("name")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
            or _restarted_after_a_crash([cs])
        ),
        None,
    )
    for previous in (True, False):
        try:
            text = kube.logs(
                meta.get("namespace", ""), meta.get("name", ""), crashing, previous=previous, tail_lines=LOG_LINES
            )
        except KfbError:  # no previous run yet, or logs unavailable
            continue
        lines = [line for line in (text or "").splitlines() if line.strip()][-LOG_LINES:]
        if lines and not lines[0].startswith(NO_LOGS_ANSWER):
            return detail + "; last log lines:\n" + "\n".join(f"  {line[:200]}" for line in lines)
    return detail + "; no logs available"


def _no_pods_reason(kube: "Kube", workload: Workload) -> str:
    """Without pods the answer is in the events (FailedCreate: quota, missing service account, policy)."""
    try:
        events = kube.items(EVENTS, workload.namespace)
    except KfbError:
        events = []
    mine = [
        e
        for e in events
        if e.get("type") == "Warning" and ((e.get("involvedObject") or {}).get("name") or "").startswith(workload.name)
    ]
    if mine:
        latest = max(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return f"{latest.get('reason')}: {latest.get('message')}"
    return "no pods were created yet"
