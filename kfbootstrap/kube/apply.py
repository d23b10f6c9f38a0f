"""The apply engine: server-side apply of a whole render in one converging pass.

Instead of `while ! kubectl apply -f -; do sleep 20; done`, which re-sends every object
until the slowest webhook is ready, each object is retried on its own:

1. Namespaces and CRDs are applied first, then we watch until the CRDs are Established.
2. Everything else follows with bounded concurrency. An object refused because a
   webhook has no ready endpoint yet, its kind is not served yet or its namespace is
   missing waits with backoff and is tried again, while the rest proceed
   (kfbootstrap/kube/retry.py decides what is worth waiting for). Some namespaces are
   made by a controller from an object of the same render (a Kubeflow Profile's
   namespace, by the profile controller): their objects wait the same way, and at the
   deadline the failure says which controller never created the namespace.
3. Webhook configurations go last, once every other object is settled.

Always server-side apply with one field manager and forced conflicts: large CRDs do not
fit client-side apply's annotation, and a re-run takes back fields another manager
changed. At the deadline the caller gets an ApplyReport (and, by default, ApplyFailed
with a table of what did not apply and why).

Model-registry and other steps use the same entry point: `apply_objects(...)`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from kfbootstrap.errors import KfbError
from kfbootstrap.logsetup import log_location
from kfbootstrap.kube import immutable, retry
from kfbootstrap.kube.crds import crd_state, wait_established
from kfbootstrap.kube.discovery import Discovery, KindNotServed, crd_resources, scoped_ref
from kfbootstrap.kube.objects import (
    COMPONENT_LABEL,
    CRD_KIND,
    PHASE_FOUNDATION,
    PHASE_MAIN,
    PHASE_WEBHOOKS,
    ObjectRef,
    controller_namespaces,
    crd_group_versions,
    crd_kinds,
    for_apply,
    phase_of,
    ref_of,
    refuse_duplicates,
)
from kfbootstrap.kube.api import Kube
from kfbootstrap.kube.rest import APPLY_PATCH, KubeRequestError, KubeRest
from kfbootstrap.ui import shorten

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("kfbootstrap.apply")

FIELD_MANAGER = "kfbootstrap"
DEFAULT_WORKERS = 8
# How long to watch CRDs before moving on; objects of a CRD that is still not served
# keep retrying on their own until the overall deadline.
CRD_WAIT = 120.0
NOT_ATTEMPTED = "not attempted"
TABLE_ROWS = 30  # of the failure table on screen; the log file has every row

Progress = Callable[[int, int], None]


@dataclass
class ObjectResult:
    """What happened to one object: applied or not, after how many attempts, and the last refusal."""

    ref: ObjectRef
    phase: str
    applied: bool = False
    attempts: int = 0
    verdict: retry.Verdict | None = None  # the last refusal (kept after success)
    recreated: str = ""  # why it was deleted and created again (an immutable field changed)

    @property
    def reason(self) -> str:
        return self.verdict.reason if self.verdict else NOT_ATTEMPTED


@dataclass
class ApplyReport:
    component: str
    results: list[ObjectResult]
    requests: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    # {namespace: (controller, source object)} for namespaces a controller makes from the render
    controller_namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def applied(self) -> int:
        return sum(1 for r in self.results if r.applied)

    @property
    def failed(self) -> list[ObjectResult]:
        return [r for r in self.results if not r.applied]

    @property
    def ok(self) -> bool:
        return not self.failed

    def attempts(self) -> dict[str, int]:
        """Attempts per object (str(ref)); 1 everywhere means nothing had to wait."""
        return {str(r.ref): r.attempts for r in self.results}

    def summary(self) -> str:
        retried = sum(1 for r in self.results if r.applied and r.attempts > 1)
        text = f"{self.applied}/{self.total} objects"
        return text + (f", {retried} after retries" if retried else "")

    def awaited_controllers(self) -> dict[str, tuple[str, str]]:
        """{namespace: (controller, source)} for the controller-made namespaces failed objects still wait for."""
        missing = {r.ref.namespace for r in self.failed if r.reason == retry.NAMESPACE_MISSING}
        return {ns: who for ns, who in self.controller_namespaces.items() if ns in missing}

    def failure_table(self, limit: int | None = TABLE_ROWS) -> str:
        """One line per object that did not apply: object, reason, attempts, server message.

        Rows that explain the failure come first (refused by the API, then what waited in vain:
        webhook not ready, kind not served, namespace missing), "not attempted" last, so a cut
        table never hides its cause; a cut one says where every row is.
        """
        rows = sorted(self.failed, key=lambda r: (_REASON_ORDER.get(r.reason, 1), r.reason, str(r.ref)))
        shown = rows if limit is None else rows[:limit]
        width = max([len(str(r.ref)) for r in shown] + [6])
        lines = [f"  {'OBJECT'.ljust(width)}  {'REASON':<30}  TRIES  MESSAGE"]
        for r in shown:
            message = (r.verdict.message if r.verdict else "earlier objects did not settle in time").replace("\n", " ")
            cut = message if limit is None else shorten(message, 200)
            lines.append(f"  {str(r.ref).ljust(width)}  {r.reason:<30}  {r.attempts:>5}  {cut}")
        if len(shown) < len(rows):
            left = rows[len(shown) :]
            waiting = sum(1 for r in left if r.reason == NOT_ATTEMPTED)
            of_which = f", {waiting} of them not attempted" if waiting else ""
            lines.append(f"  … and {len(left)} more{of_which}: every row is in {log_location()}")
        return "\n".join(lines)

    def recreated(self) -> list[ObjectResult]:
        return [r for r in self.results if r.recreated]

    def reason_counts(self) -> str:
        """'3 webhook not ready, 40 not attempted': the failed objects per reason, causes first."""
        counts: dict[str, int] = {}
        for r in sorted(self.failed, key=lambda r: (_REASON_ORDER.get(r.reason, 1), r.reason)):
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return ", ".join(f"{count} {reason}" for reason, count in counts.items())


# Refusals that waiting cannot fix first, then what waited in vain, then what never got its turn.
_REASON_ORDER = {
    retry.INVALID: 0,
    retry.FORBIDDEN: 0,
    retry.UNAUTHORIZED: 0,
    retry.DENIED: 0,
    retry.CONFLICT: 0,
    retry.OTHER: 0,
    NOT_ATTEMPTED: 2,
}


class ApplyFailed(KfbError):
    """Some objects did not apply before the deadline; carries the report.

    The message is one line per fact (counts per reason, where the whole table is, which
    controller a namespace waits for), short enough never to be cut; `details` is the table,
    which `up` prints above the error (kfbootstrap/pipeline.py).
    """

    def __init__(self, report: ApplyReport, timeout: float):
        self.report = report
        failed = report.failed
        when = f"within {timeout:.0f}s" if report.timed_out else "(they cannot succeed by waiting)"
        message = (
            f"{len(failed)} of {report.total} objects of {report.component} did not apply {when}: "
            f"{report.reason_counts()}; the table above names them (every row: {log_location()})"
        )
        awaited = report.awaited_controllers()
        for namespace, (controller, source) in awaited.items():
            message += f"\nnamespace {namespace} is still missing: waiting for {controller} to create it from {source}"
        self.details = f"Not applied ({report.component}):\n{report.failure_table()}"
        hint = _controller_hint(awaited) if awaited else _hint_for({r.reason for r in failed})
        super().__init__(message, hint=hint)


def _controller_hint(awaited: dict[str, tuple[str, str]]) -> str:
    controller = next(iter(awaited.values()))[0]
    return (
        f"{controller} has not created {', '.join(awaited)}: check that its pod runs "
        "(`kubectl get pods -n kubeflow`) and its logs, then re-run `kfbootstrap up` (applied objects are kept), "
        "or raise timeouts.apply"
    )


def _hint_for(reasons: set[str]) -> str:
    if retry.WEBHOOK_NOT_READY in reasons:
        return (
            "webhook servers were not ready in time (often images still pulling): check "
            "`kubectl get pods -A | grep -v Running`, then re-run `kfbootstrap up` (applied objects are kept), "
            "or raise timeouts.apply"
        )
    if retry.KIND_NOT_SERVED in reasons:
        return "a CRD is missing or not Established: check `kubectl get crd` and the render's CRDs"
    if reasons & {retry.INVALID, retry.DENIED, retry.FORBIDDEN}:
        return "the manifests do not fit this cluster (API version, RBAC or policy); see the messages above"
    return "re-run `kfbootstrap up` to continue; details are in the log file (-v shows them live)"


@dataclass(order=True)
class _Scheduled:
    ready_at: float
    seq: int
    item: "_Item" = field(compare=False)


@dataclass(eq=False)
class _Item:
    obj: Mapping[str, Any]
    result: ObjectResult
    crd_version: str | None = None  # resourceVersion our apply of a CRD returned
    crd_state: str | None = None


class _Engine:
    def __init__(
        self,
        rest: KubeRest,
        objects: Sequence[Mapping[str, Any]],
        *,
        component: str,
        timeout: float,
        progress: Progress | None,
        workers: int,
        default_namespace: str | None,
        field_manager: str,
        clock: Callable[[], float],
        labels: Mapping[str, str] | None = None,
    ):
        self.rest = rest
        self.labels = dict(labels or {})
        self.discovery = Discovery(
            rest,
            clock,
            known=[resource for obj in objects if obj.get("kind") == CRD_KIND for resource in crd_resources(obj)],
        )
        self.component = component
        self.timeout = timeout
        self.progress = progress or (lambda done, total: None)
        self.workers = max(1, workers)
        self.default_namespace = default_namespace
        self.field_manager = field_manager
        self.clock = clock
        self.items = [_Item(obj, ObjectResult(ref_of(obj, default_namespace), phase_of(obj))) for obj in objects]
        self.heap: list[_Scheduled] = []
        self.inflight: dict[Future, _Item] = {}
        self.resolved: set[int] = set()
        self.applied = 0
        self.seq = itertools.count()
        self.deadline = 0.0
        self.timed_out = False
        # Custom resources of CRDs in this set wait in `held` until their CRD is Established.
        self.crd_kinds = crd_kinds(objects)
        self.crd_versions = {
            name: [f"{group}/{v}" for v in versions] for name, (group, versions) in crd_group_versions(objects).items()
        }
        self.held: dict[str, list[_Item]] = {}
        self.unestablished: set[str] = set()
        self.crd_events: queue.Queue[str | None] = queue.Queue()
        self.watching = False
        self.controller_namespaces = controller_namespaces(objects)
        self.announced: set[str] = set()  # controller-made namespaces we said we wait for

    # ------------------------------------------------------------------ phases

    def run(self) -> list[ObjectResult]:
        self.deadline = self.clock() + self.timeout
        foundation, main, webhooks = (self._phase(p) for p in (PHASE_FOUNDATION, PHASE_MAIN, PHASE_WEBHOOKS))
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kfb-apply") as pool:
            try:
                self._schedule_now(foundation)
                self._pump(pool, lambda: all(i.result.attempts for i in foundation))
                self._watch_crds(foundation)
                self._schedule_or_hold(main)
                self._pump(pool, lambda: self._settled(foundation) and self._settled(main))
                self._schedule_now(webhooks)
                self._pump(pool, lambda: self._settled(self.items))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return [item.result for item in self.items]

    def _phase(self, phase: str) -> list[_Item]:
        return [item for item in self.items if item.result.phase == phase]

    def _settled(self, items: Sequence[_Item]) -> bool:
        return all(id(item) in self.resolved for item in items)

    # ------------------------------------------------------------------ CRDs

    def _watch_crds(self, foundation: Sequence[_Item]) -> None:
        """Watch our new CRDs in the background; their custom resources are held until each is Established.

        Objects of built-in kinds do not wait: they are applied while the API server
        establishes the CRDs.
        """
        pending = {
            item.result.ref.name: item.crd_version
            for item in foundation
            if item.obj.get("kind") == CRD_KIND and item.result.applied and item.crd_state != "established"
        }
        log.debug("%s: namespaces and CRDs sent; watching %d CRDs", self.component, len(pending))
        if not pending or self.timed_out:
            return
        self.unestablished = set(pending)
        self.watching = True
        deadline = min(self.deadline, self.clock() + CRD_WAIT)
        threading.Thread(target=self._crd_watcher, args=(pending, deadline), name="kfb-crd-watch", daemon=True).start()

    def _crd_watcher(self, pending: dict[str, str | None], deadline: float) -> None:
        started = self.clock()
        try:
            stuck = wait_established(
                Kube(self.rest),
                pending,
                deadline,
                on_established=self.crd_events.put,
                label_selector=f"{COMPONENT_LABEL}={self.component}",
                clock=self.clock,
            )
            log.info(
                "%s: %d CRDs Established in %.1fs%s",
                self.component,
                len(pending) - len(stuck),
                self.clock() - started,
                f"; not: {stuck}" if stuck else "",
            )
        finally:
            self.crd_events.put(None)  # the watch is over: release whatever still waits

    def _schedule_or_hold(self, items: Sequence[_Item]) -> None:
        now = self.clock()
        for item in items:
            crd = self.crd_kinds.get((item.result.ref.group, item.result.ref.kind))
            if self.watching and crd in self.unestablished:
                self.held.setdefault(crd, []).append(item)
            else:
                heapq.heappush(self.heap, _Scheduled(now, next(self.seq), item))

    def _take_crd_events(self) -> None:
        """Release the objects of each CRD the watcher saw Established (all of them when it ends)."""
        while True:
            try:
                name = self.crd_events.get_nowait()
            except queue.Empty:
                return
            names = list(self.held) if name is None else [name]
            if name is None:
                self.watching = False
            else:
                self.unestablished.discard(name)
                # Its group/versions may have been discovered before it was served.
                for api_version in self.crd_versions.get(name, ()):
                    self.discovery.invalidate(api_version)
            for crd in names:
                self._schedule_now(self.held.pop(crd, []))

    # ------------------------------------------------------------------ scheduling

    def _schedule_now(self, items: Sequence[_Item]) -> None:
        now = self.clock()
        for item in items:
            heapq.heappush(self.heap, _Scheduled(now, next(self.seq), item))

    def _pump(self, pool: ThreadPoolExecutor, gate: Callable[[], bool]) -> None:
        """Run due attempts, `workers` at a time, until `gate()` holds or the deadline passes."""
        while True:
            self._take_crd_events()
            now = self.clock()
            if now >= self.deadline:
                self._expire()
                return
            while self.heap and self.heap[0].ready_at <= now and len(self.inflight) < self.workers:
                item = heapq.heappop(self.heap).item
                self.inflight[pool.submit(self._attempt, item)] = item
            if gate() or (not self.heap and not self.inflight and not self.held):
                return
            next_due = self.heap[0].ready_at if self.heap and len(self.inflight) < self.workers else self.deadline
            pause = max(0.0, min(next_due, self.deadline) - now)
            if self.watching:
                pause = min(pause, 0.05)  # CRD events arrive on a queue, not as futures
            if not self.inflight:
                time.sleep(pause)  # only objects in backoff or held: nothing to wait on but the clock
                continue
            done, _ = wait(list(self.inflight), timeout=pause, return_when=FIRST_COMPLETED)
            for future in done:
                self._record(self.inflight.pop(future), future.result())

    def _record(self, item: _Item, verdict: retry.Verdict | None) -> None:
        result = item.result
        result.attempts += 1
        if verdict is None:
            result.applied = True  # verdict keeps the last refusal: why it had to wait, if it did
            self.resolved.add(id(item))
            self.applied += 1
            self.progress(self.applied, len(self.items))
            return
        result.verdict = verdict
        self._announce_controller_wait(result)
        if verdict.allows_attempt(result.attempts):
            delay = retry.backoff(result.attempts)
            log.debug("retry %s in %.1fs (%s): %s", result.ref, delay, verdict.reason, verdict.message[:200])
            heapq.heappush(self.heap, _Scheduled(self.clock() + delay, next(self.seq), item))
        else:
            log.warning("%s did not apply (%s): %s", result.ref, verdict.reason, verdict.message[:300])
            self.resolved.add(id(item))

    def _announce_controller_wait(self, result: ObjectResult) -> None:
        """Say once per namespace that its objects wait for the controller that makes it."""
        namespace = result.ref.namespace
        if (
            result.reason != retry.NAMESPACE_MISSING
            or namespace not in self.controller_namespaces
            or namespace in self.announced
        ):
            return
        self.announced.add(namespace)
        controller, source = self.controller_namespaces[namespace]
        log.info(
            "%s: objects in namespace %s wait until %s creates it from %s",
            self.component,
            namespace,
            controller,
            source,
        )

    def _expire(self) -> None:
        """The deadline passed: let requests in flight finish, fail everything else."""
        self.timed_out = True
        for future in list(self.inflight):
            self._record(self.inflight.pop(future), future.result())
        self.heap.clear()
        for crd, items in self.held.items():
            for item in items:
                item.result.verdict = retry.Verdict(retry.KIND_NOT_SERVED, f"CRD {crd} is not Established yet")
        self.held.clear()
        for item in self.items:
            self.resolved.add(id(item))

    # ------------------------------------------------------------------ one attempt (worker thread)

    def _attempt(self, item: _Item) -> retry.Verdict | None:
        """Apply one object once; None when applied, else why not."""
        obj, ref = item.obj, item.result.ref
        waited_for_kind = item.result.reason == retry.KIND_NOT_SERVED
        try:
            resource = self.discovery.resource(ref.api_version, ref.kind, refresh=waited_for_kind)
        except KindNotServed as exc:
            return retry.Verdict(retry.KIND_NOT_SERVED, exc.detail)
        except KubeRequestError as exc:
            return retry.classify(exc.response.status, exc.response.body)
        item.result.ref = ref = scoped_ref(resource, ref, self.default_namespace)
        response = self.rest.request(
            "PATCH",
            resource.object_path(ref.namespace, ref.name),
            query={"fieldManager": self.field_manager, "force": "true"},
            body=self._body(obj, ref),
            content_type=APPLY_PATCH,
        )
        if response.ok:
            if ref.kind == CRD_KIND:
                self._note_crd(item, response.json())
            return None
        verdict = retry.classify(response.status, response.body)
        if response.status == 422 and immutable.refused_as_immutable(verdict.message):
            return self._recreate(item, resource, verdict.message)
        if verdict.reason == retry.KIND_NOT_SERVED:
            self.discovery.invalidate(ref.api_version)
        return verdict

    def _recreate(self, item: _Item, resource: Any, message: str) -> retry.Verdict | None:
        """The API refused an immutable change: delete the object, wait until it is gone, create it anew."""
        ref = item.result.ref
        gone = immutable.delete_and_wait(self.rest, resource, ref, deadline=self.deadline, clock=self.clock)
        if not gone:
            return retry.Verdict(
                retry.CONFLICT, f"recreating after an immutable change: still being deleted ({message})"
            )
        item.result.recreated = immutable.why(message)
        log.info("recreated %s: %s", ref, item.result.recreated)
        response = self.rest.request(
            "PATCH",
            resource.object_path(ref.namespace, ref.name),
            query={"fieldManager": self.field_manager, "force": "true"},
            body=self._body(item.obj, ref),
            content_type=APPLY_PATCH,
        )
        return None if response.ok else retry.classify(response.status, response.body)

    def _body(self, obj: Mapping[str, Any], ref: ObjectRef) -> bytes:
        labelled = for_apply(obj, self.component)
        meta = labelled["metadata"]
        if self.labels:
            meta["labels"] = {**meta["labels"], **self.labels}
        if ref.namespace:
            meta["namespace"] = ref.namespace
        else:
            meta.pop("namespace", None)  # cluster-scoped: a namespace set by kustomize would be refused
        return json.dumps(labelled, separators=(",", ":")).encode()

    @staticmethod
    def _note_crd(item: _Item, crd: Mapping[str, Any]) -> None:
        item.crd_version = (crd.get("metadata") or {}).get("resourceVersion")
        item.crd_state = crd_state(crd)


def apply_objects(
    api_client: "Kube | ApiClient | KubeRest",
    objects: Sequence[Mapping[str, Any]],
    *,
    component: str,
    timeout: float = 1200.0,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
    default_namespace: str | None = None,
    field_manager: str = FIELD_MANAGER,
    raise_on_failure: bool = True,
    clock: Callable[[], float] = time.monotonic,
    labels: Mapping[str, str] | None = None,
) -> ApplyReport:
    """Server-side apply `objects` until each is applied or `timeout` seconds have passed.

    Every object gets our managed-by and component labels. `default_namespace` is used
    for namespaced objects that name none (like `kubectl apply -n`). `progress(applied,
    total)` is called from this thread after each applied object. `labels` are added to
    every object (the ApplySet's part-of label). An object the API refuses to change
    because of an immutable field is deleted and created again (ObjectResult.recreated
    says why; a StatefulSet's pods and PVCs are orphaned, not deleted). Raises ApplyFailed
    when something did not apply (unless `raise_on_failure` is False) and KfbError when
    the same object occurs twice.
    """
    refuse_duplicates(objects, component, default_namespace)
    rest = _rest_of(api_client)
    requests_before = rest.requests
    started = clock()
    engine = _Engine(
        rest,
        objects,
        component=component,
        timeout=timeout,
        progress=progress,
        workers=workers,
        default_namespace=default_namespace,
        field_manager=field_manager,
        clock=clock,
        labels=labels,
    )
    results = engine.run()
    report = ApplyReport(
        component,
        results,
        requests=rest.requests - requests_before,
        seconds=clock() - started,
        timed_out=engine.timed_out,
        controller_namespaces=engine.controller_namespaces,
    )
    log.info("%s: applied %s in %.1fs with %d requests", component, report.summary(), report.seconds, report.requests)
    if not report.ok:
        log.info("%s: not applied:\n%s", component, report.failure_table(limit=None))
        if raise_on_failure:
            raise ApplyFailed(report, timeout)
    return report


def _rest_of(api: "Kube | ApiClient | KubeRest") -> KubeRest:
    """The run's adapter carries its transport; tests may hand a bare ApiClient."""
    if isinstance(api, Kube):
        return api.rest
    return api if isinstance(api, KubeRest) else KubeRest(api)
