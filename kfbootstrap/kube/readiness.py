"""Wait until the Deployments, StatefulSets and DaemonSets of the enabled components are ready.

Three watches (one per kind, across namespaces, filtered here by each component's
scope) keep a live picture instead of polling; every change re-evaluates it and
reports ready / total per namespace. At the deadline the caller gets the workloads
that are still not ready, and `explain` says why for each one by looking at its pods
the way a person would: Pending with the scheduler's message, ImagePullBackOff with
the image, CrashLoopBackOff with the last log lines, a failing readiness probe.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.workloads import Workload

log = logging.getLogger("kfbootstrap.readiness")

KINDS = ("deployment", "statefulset", "daemonset")
WATCH_SECONDS = 10  # each watch request ends after this at the latest, so a thread always notices `stop`
LOG_LINES = 5


@dataclass(frozen=True)
class Scope:
    """Where a component's workloads live: a namespace, optionally narrowed by labels."""

    namespace: str
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, workload: Workload) -> bool:
        return workload.namespace == self.namespace and all(workload.labels.get(k) == v for k, v in self.labels)


_ISTIO = (("app.kubernetes.io/part-of", "istio"),)
# Which workloads belong to which component (namespaces from the 26.03 render and our charts).
COMPONENT_SCOPES: dict[str, tuple[Scope, ...]] = {
    "kubeflow": tuple(Scope(ns) for ns in ("cert-manager", "istio-system", "auth", "oauth2-proxy", "knative-serving",
                                           "kubeflow", "kubeflow-system")) + (Scope("kube-system", _ISTIO),),
    "kserve": (Scope("kubeflow", (("app.kubernetes.io/name", "kserve"),)),),
    "metallb": (Scope("metallb-system"),),
    "prometheus": (Scope("monitoring", (("app.kubernetes.io/instance", "prometheus"),)),),
    "grafana": (Scope("monitoring", (("app.kubernetes.io/instance", "grafana"),)),),
    "model_registry": (Scope("kubeflow", (("component", "db"),)),
                       Scope("kubeflow", (("component", "model-registry-server"),))),
    "object_store": (),  # Kubeflow brings it; covered by the kubeflow scopes
}


def scopes_for(components: Iterable[str]) -> list[Scope]:
    return [scope for name in components for scope in COMPONENT_SCOPES.get(name, ())]


def in_scope(workload: Workload, scopes: Sequence[Scope]) -> bool:
    return any(scope.matches(workload) for scope in scopes)


# ---------------------------------------------------------------- reading workloads


def workload_from(kind: str, obj: Mapping[str, Any]) -> Workload:
    """A Workload from the raw JSON of a Deployment, StatefulSet or DaemonSet."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    current = observed is not None and (generation is None or observed >= generation)
    if kind == "daemonset":
        desired = status.get("desiredNumberScheduled") or 0
        ready = status.get("numberReady") or 0
        updated = status.get("updatedNumberScheduled") or 0
    else:
        desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        ready = status.get("readyReplicas") or 0
        updated = status.get("updatedReplicas") or 0
        if kind == "statefulset" and (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            updated = desired
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return Workload(kind, meta.get("namespace", ""), meta.get("name", ""), ready=ready, desired=desired,
                    images=tuple(c.get("image", "") for c in containers),
                    labels=dict(meta.get("labels") or {}), current=current and updated >= desired)


def per_namespace(workloads: Iterable[Workload]) -> dict[str, tuple[int, int]]:
    """{namespace: (ready workloads, all workloads)}, sorted by namespace."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for workload in workloads:
        counts[workload.namespace][1] += 1
        counts[workload.namespace][0] += workload.is_ready
    return {ns: (ready, total) for ns, (ready, total) in sorted(counts.items())}


def snapshot(api_client: Any, scopes: Sequence[Scope]) -> list[Workload]:
    """The workloads in scope right now (three list calls)."""
    from kubernetes import client

    apps = client.AppsV1Api(api_client)
    found = []
    for kind in KINDS:
        data = json.loads(_lister(apps, kind)(_preload_content=False).data)
        found += [w for w in (workload_from(kind, item) for item in data.get("items") or []) if in_scope(w, scopes)]
    return found


def _lister(apps: Any, kind: str) -> Callable[..., Any]:
    return {"deployment": apps.list_deployment_for_all_namespaces,
            "statefulset": apps.list_stateful_set_for_all_namespaces,
            "daemonset": apps.list_daemon_set_for_all_namespaces}[kind]


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


def wait_ready(client_factory: Callable[[], Any], scopes: Sequence[Scope], timeout: float,
               progress: Progress | None = None, clock: Callable[[], float] = time.monotonic) -> WaitResult:
    """Watch until every workload in `scopes` is ready or `timeout` seconds pass.

    `client_factory` makes one ApiClient per watch thread. `progress` gets the current
    workloads after each change. Never raises on a timeout: the result says what is
    not ready; API errors that waiting cannot fix raise KfbError.
    """
    started = clock()
    events: queue.Queue = queue.Queue()
    stop = _Stop()
    threads = [threading.Thread(target=_watch_kind, args=(client_factory, kind, events, stop),
                                name=f"kfb-ready-{kind}", daemon=True) for kind in KINDS]
    for thread in threads:
        thread.start()
    state: dict[tuple[str, str, str], Workload] = {}
    synced: set[str] = set()
    try:
        while True:
            remaining = timeout - (clock() - started)
            changed = _drain(events, state, synced, scopes, min(max(remaining, 0.0), 1.0))
            current = sorted(state.values(), key=lambda w: (w.namespace, w.kind, w.name))
            if len(synced) == len(KINDS):
                if changed and progress is not None:
                    progress(current)
                if all(w.is_ready for w in current):
                    return WaitResult(current, clock() - started)
            if remaining <= 0:
                return WaitResult(current, clock() - started)
    finally:
        stop.set()
        _join(threads, stop)


def _join(threads: list[threading.Thread], stop: "_Stop") -> None:
    """Never leave a thread reading a socket while the interpreter exits.

    A watch request still in flight when `stop` was set has no response to cut yet,
    so keep cutting until every thread has ended (at most one watch period).
    """
    deadline = time.monotonic() + WATCH_SECONDS + 2
    for thread in threads:
        while thread.is_alive() and time.monotonic() < deadline:
            stop.cut_all()
            thread.join(0.1)


class _Stop(threading.Event):
    """The stop signal, which also cuts the watches' open responses so their threads end at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._watchers: set[Any] = set()

    def track(self, watcher: Any) -> None:
        with self._lock:
            self._watchers.add(watcher)

    def untrack(self, watcher: Any) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def set(self) -> None:
        super().set()
        self.cut_all()

    def cut_all(self) -> None:
        with self._lock:
            for watcher in self._watchers:
                watcher.stop()
                _cut(getattr(watcher, "_resp", None))  # the client keeps the open stream there


def _cut(response: Any) -> None:
    """Shut the socket under a streaming response down, so the thread reading it returns now.

    shutdown(2) acts on the connection, not the descriptor, so doing it on a duplicate
    of the response's descriptor ends the read in the other thread.
    """
    import socket

    try:
        duplicate = socket.fromfd(response.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except (AttributeError, OSError, ValueError):
        return  # no response yet, or already closed
    with duplicate:
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


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


def _apply_event(item: tuple[str, str, Any], state: dict, synced: set[str], scopes: Sequence[Scope]) -> bool:
    kind_of_event, kind, payload = item
    if kind_of_event == "error":
        raise KfbError(f"cannot watch {kind}s: {payload}",
                       hint="check your access: `kubectl auth can-i watch deployments --all-namespaces`")
    if kind_of_event == "sync":  # a fresh list replaces everything known of this kind
        for key in [k for k in state if k[0] == kind]:
            del state[key]
        for obj in payload:
            _put(state, workload_from(kind, obj), scopes)
        synced.add(kind)
        return True
    workload = workload_from(kind, payload)
    key = (kind, workload.namespace, workload.name)
    if kind_of_event == "DELETED":
        return state.pop(key, None) is not None
    return _put(state, workload, scopes)


def _put(state: dict, workload: Workload, scopes: Sequence[Scope]) -> bool:
    if not in_scope(workload, scopes):
        return False
    key = (workload.kind, workload.namespace, workload.name)
    before = state.get(key)
    state[key] = workload
    return before is None or (before.ready, before.desired, before.current) != (
        workload.ready, workload.desired, workload.current)


def _watch_kind(client_factory: Callable[[], Any], kind: str, events: queue.Queue, stop: _Stop) -> None:
    """List once, then watch from that version; re-list when the server says the version is gone (410)."""
    from kubernetes import client, watch
    from kubernetes.client.exceptions import ApiException

    try:
        apps = client.AppsV1Api(client_factory())
    except KfbError as exc:
        events.put(("error", kind, exc.message))
        return
    lister = _lister(apps, kind)
    version = None
    failures = 0
    while not stop.is_set():
        try:
            if version is None:
                data = json.loads(lister(_preload_content=False).data)
                version = (data.get("metadata") or {}).get("resourceVersion")
                events.put(("sync", kind, data.get("items") or []))
            watcher = watch.Watch()
            stop.track(watcher)
            try:
                for event in watcher.stream(lister, resource_version=version, timeout_seconds=WATCH_SECONDS,
                                            allow_watch_bookmarks=True, deserialize=False):
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        events.put((event["type"], kind, obj))
                    if stop.is_set():
                        break
            finally:
                stop.untrack(watcher)
            failures = 0
        except ApiException as exc:
            if exc.status == 410:
                version = None  # too old: list again
                continue
            if exc.status in (401, 403, 404):
                events.put(("error", kind, f"{exc.status} {exc.reason}"))
                return
            failures += 1
            log.debug("watch %s: %s (retrying)", kind, exc)
            stop.wait(min(2 ** failures, 10))
        except Exception as exc:  # connection reset, API server restarting: keep watching until the deadline
            failures += 1
            log.debug("watch %s: %s (retrying)", kind, exc)
            stop.wait(min(2 ** failures, 10))


# ---------------------------------------------------------------- explaining


@dataclass(frozen=True)
class Problem:
    """Why one workload is not ready, in the words `kubectl describe` would use."""

    workload: Workload
    reason: str  # Pending, ImagePullBackOff, CrashLoopBackOff, NotReady, NoPods, …
    detail: str


def explain(api_client: Any, workloads: Sequence[Workload]) -> list[Problem]:
    """One Problem per workload, from its pods (and events when it has none)."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    return [_explain_one(core, apps, workload) for workload in workloads]


def _explain_one(core: Any, apps: Any, workload: Workload) -> Problem:
    try:
        selector = _selector_of(apps, workload)
        pods = json.loads(core.list_namespaced_pod(workload.namespace, label_selector=selector,
                                                   _preload_content=False).data).get("items") or []
    except Exception as exc:  # explaining must never hide the timeout itself
        return Problem(workload, "Unknown", f"could not read its pods: {exc}")
    for pod in sorted(pods, key=_pod_badness):
        problem = pod_problem(pod)
        if problem is not None:
            reason, detail = problem
            if reason == "CrashLoopBackOff":
                detail = _with_logs(core, pod, detail)
            return Problem(workload, reason, detail)
    if not pods:
        return Problem(workload, "NoPods", _no_pods_reason(core, workload))
    if not workload.current:
        return Problem(workload, "Progressing", "the controller has not rolled out the latest spec yet")
    return Problem(workload, "NotReady", f"{workload.ready}/{workload.desired} ready; pods look healthy, still starting")


def _selector_of(apps: Any, workload: Workload) -> str:
    read = {"deployment": apps.read_namespaced_deployment, "statefulset": apps.read_namespaced_stateful_set,
            "daemonset": apps.read_namespaced_daemon_set}[workload.kind]
    obj = json.loads(read(workload.name, workload.namespace, _preload_content=False).data)
    return label_selector((obj.get("spec") or {}).get("selector") or {})


def label_selector(selector: Mapping[str, Any]) -> str:
    """A LabelSelector object as the string form the list API takes."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(parts)


def _pod_badness(pod: Mapping[str, Any]) -> int:
    """Look at the most telling pod first: waiting containers, then unscheduled, then the rest."""
    problem = pod_problem(pod)
    order = {"CrashLoopBackOff": 0, "ImagePullBackOff": 1, "ErrImagePull": 1, "Pending": 2}
    return order.get(problem[0], 3) if problem else 4


def pod_problem(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, detail) for a pod that is not ready, or None when it is ready."""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    images = {c.get("name"): c.get("image") for c in ((pod.get("spec") or {}).get("containers") or [])
              + ((pod.get("spec") or {}).get("initContainers") or [])}
    name = (pod.get("metadata") or {}).get("name", "?")
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            reason = waiting["reason"]
            if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                return reason, f"pod {name}: image {cs.get('image') or images.get(cs.get('name'))}: {waiting.get('message', '')}".rstrip(": ")
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
    not_ready = [cs.get("name") for cs in status.get("containerStatuses") or [] if not cs.get("ready")]
    return "NotReady", f"pod {name}: container {', '.join(not_ready) or '?'} running but not ready (readiness probe failing?)"


def scheduler_reason(message: str) -> str:
    """The scheduler's verdict without the preemption and DRA postscripts that repeat it."""
    text = message.split(" preemption:", 1)[0].replace(" no new claims to deallocate,", "").strip()
    return text.rstrip(".") + "." if text else "not scheduled"


def _with_logs(core: Any, pod: Mapping[str, Any], detail: str) -> str:
    """Add the last log lines of the crashing container (its previous run, else the current one)."""
    meta = pod.get("metadata") or {}
    crashing = next((cs.get("name") for cs in (pod.get("status") or {}).get("containerStatuses") or []
                     if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"), None)
    for previous in (True, False):
        try:
            text = core.read_namespaced_pod_log(meta.get("name"), meta.get("namespace"), container=crashing,
                                                previous=previous, tail_lines=LOG_LINES)
        except Exception:  # no previous run yet, or logs unavailable
            continue
        lines = [line for line in (text or "").splitlines() if line.strip()][-LOG_LINES:]
        if lines:
            return detail + "; last log lines:\n" + "\n".join(f"  {line[:200]}" for line in lines)
    return detail + "; no logs available"


def _no_pods_reason(core: Any, workload: Workload) -> str:
    """Without pods the answer is in the events (FailedCreate: quota, missing service account, policy)."""
    try:
        events = json.loads(core.list_namespaced_event(workload.namespace, _preload_content=False).data).get("items") or []
    except Exception:
        events = []
    mine = [e for e in events if e.get("type") == "Warning"
            and ((e.get("involvedObject") or {}).get("name") or "").startswith(workload.name)]
    if mine:
        latest = max(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return f"{latest.get('reason')}: {latest.get('message')}"
    return "no pods were created yet"
