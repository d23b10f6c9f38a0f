"""The one Kubernetes adapter: dicts in and out, our own errors, a deadline on every request.

Built once per run (RunContext.kube) over one connection pool that every thread may
share. Objects are plain JSON dicts; a 404 is `None` where the caller asks for that
(`get`), and every other refusal is a kube.errors type whose message names the verb,
the object and the kube context. `watch` is the only watch loop: it lists, watches
from that version, and lists again when the server forgets the version (410) or the
stream breaks, until a deadline or a cancel.
"""

from __future__ import annotations

import builtins
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.errors import Conflict, Forbidden, KubeError, NotAnApiServer, NotFound, Unauthorized
from kfbootstrap.kube.rest import APPLY_PATCH, METADATA_LIST_ACCEPT, Cancel, KubeRest, Response, StreamRefused, Timeouts

log = logging.getLogger("kfbootstrap.kube")

NAMESPACES = Resource("v1", "Namespace", "namespaces", False)
NODES = Resource("v1", "Node", "nodes", False)
SERVICES = Resource("v1", "Service", "services", True)
SECRETS = Resource("v1", "Secret", "secrets", True)
CONFIGMAPS = Resource("v1", "ConfigMap", "configmaps", True)
PODS = Resource("v1", "Pod", "pods", True)
EVENTS = Resource("v1", "Event", "events", True)
DEPLOYMENTS = Resource("apps/v1", "Deployment", "deployments", True)
STATEFULSETS = Resource("apps/v1", "StatefulSet", "statefulsets", True)
DAEMONSETS = Resource("apps/v1", "DaemonSet", "daemonsets", True)
ENDPOINTSLICES = Resource("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True)
CRDS = Resource("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False)

WATCH_SECONDS = 30  # one watch request at most; the server ends it, and we re-watch from the last version


@dataclass(frozen=True)
class Event:
    """One watch event: SYNC (a fresh list: `objects` replaces all known), ADDED, MODIFIED, DELETED."""

    type: str
    obj: dict[str, Any]
    objects: tuple[dict[str, Any], ...] = ()


class Kube:
    """One cluster, reached through one context."""

    def __init__(self, rest: KubeRest, context: str | None = None):
        self.rest = rest
        self.context = context if context is not None else rest.context

    @property
    def server(self) -> str:
        return self.rest.server

    # ---------------------------------------------------------------- reading

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        response = self.rest.request("GET", resource.object_path(namespace, name))
        if response.status == 404:
            return None
        return self._ok(response, "get", resource, namespace, name)

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        """The list object (`items`, `metadata.resourceVersion`); namespace None: all namespaces."""
        query = {"labelSelector": labels, "fieldSelector": fields}
        response = self.rest.request(
            "GET",
            resource.collection_path(namespace),
            query=query,
            accept=METADATA_LIST_ACCEPT if metadata_only else None,
        )
        return self._ok(response, "list", resource, namespace)

    def items(
        self, resource: Resource, namespace: str | None = None, **selectors: Any
    ) -> builtins.list[dict[str, Any]]:
        return list(self.list(resource, namespace, **selectors).get("items") or [])

    def raw(self, path: str, verb: str = "get") -> dict[str, Any] | None:
        """A GET of a path that is not an object (/version, /apis, discovery); None on 404."""
        response = self.rest.request("GET", path)
        if response.status == 404:
            return None
        if not response.ok:
            raise self._error(response, verb, path)
        return self.rest.object_of(response, verb, path, context=self.context)

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        query = {
            "container": container,
            "previous": previous or None,
            "tailLines": tail_lines,
            "limitBytes": limit_bytes,
        }
        # The server answers 406 to Accept: text/plain (it lists JSON, YAML and protobuf) but sends
        # the log as text to */*, as kubectl asks.
        response = self.rest.request("GET", PODS.object_path(namespace, pod) + "/log", query=query, accept="*/*")
        if not response.ok:
            raise self._error(response, "get", f"the logs of pod {namespace}/{pod}", "pods/log", namespace)
        return response.body.decode("utf-8", "replace")

    def port_forward(self, namespace: str, pod: str, port: int) -> Any:
        """A port-forward stream to one pod port (kubernetes.stream's PortForward: `.socket(port)`,
        `.error(port)`, `.close()`); only kube/portforward.py's relay reads it."""
        return self.rest.open_port_forward(namespace, pod, port)

    # ---------------------------------------------------------------- writing

    def create(self, resource: Resource, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any] | None:
        """Create `obj`; None when an object of that name exists already (we never overwrite it)."""
        name = (obj.get("metadata") or {}).get("name", "")
        # A JSON body goes as the dict: the client serialises application/json itself.
        response = self.rest.request(
            "POST", resource.collection_path(namespace), body=dict(obj), content_type="application/json"
        )
        if response.status == 409:
            return None
        return self._ok(response, "create", resource, namespace, name)

    def apply(
        self, resource: Resource, obj: Mapping[str, Any], *, field_manager: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """Server-side apply one object, taking conflicting fields (a re-run wins back what others changed)."""
        name = (obj.get("metadata") or {}).get("name", "")
        response = self.rest.request(
            "PATCH",
            resource.object_path(namespace, name),
            query={"fieldManager": field_manager, "force": "true"},
            body=json.dumps(obj).encode(),
            content_type=APPLY_PATCH,
        )
        return self._ok(response, "patch", resource, namespace, name)

    def patch(
        self, resource: Resource, name: str, body: Mapping[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """A JSON merge patch of one object (what `kubectl patch --type merge` sends)."""
        response = self.rest.request(
            "PATCH",
            resource.object_path(namespace, name),
            body=dict(body),  # a +json body goes as the dict: the client serialises it
            content_type="application/merge-patch+json",
        )
        return self._ok(response, "patch", resource, namespace, name)

    def delete(self, resource: Resource, name: str, namespace: str | None = None) -> bool:
        """Delete it (in the background); False when it was not there."""
        response = self.rest.request(
            "DELETE", resource.object_path(namespace, name), query={"propagationPolicy": "Background"}
        )
        if response.status == 404:
            return False
        self._ok(response, "delete", resource, namespace, name)
        return True

    # ---------------------------------------------------------------- watching

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        labels: str | None = None,
        fields: str | None = None,
        deadline: float,
        cancel: Cancel | None = None,
        since: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[Event]:
        """Events until `deadline` (a clock() value) or `cancel`: a SYNC first (unless `since` names
        a version to start from), then changes; a SYNC again whenever the watch had to start over.

        Refusals that waiting cannot fix (forbidden, unauthorized, not found, an answer that is no API
        object) raise; a broken or unreachable server is retried until the deadline, and raises only
        if not one list succeeded.
        """
        version, failures, synced = since, 0, since is not None
        last_error: KubeError | None = None
        while clock() < deadline and not (cancel and cancel.is_set()):
            try:
                if version is None:
                    listing = self.list(resource, namespace, labels=labels, fields=fields)
                    version = (listing.get("metadata") or {}).get("resourceVersion") or ""
                    synced = True
                    yield Event("SYNC", {}, tuple(listing.get("items") or []))
                selectors = {"labelSelector": labels, "fieldSelector": fields}
                version = yield from self._watch_once(resource, namespace, selectors, version, deadline, cancel, clock)
                failures = 0
            except (Forbidden, Unauthorized, NotFound, NotAnApiServer):
                raise
            except KubeError as exc:  # unreachable, timed out, 5xx: the server may come back before the deadline
                last_error, failures = exc, failures + 1
                log.debug("watch %s: %s (retrying)", resource.plural, exc.message)
                pause = min(2.0**failures, 10.0, max(0.0, deadline - clock()))
                if cancel is not None:
                    cancel.wait(pause)
                else:
                    time.sleep(pause)
        if not synced and last_error is not None:
            raise last_error

    def _watch_once(
        self,
        resource: Resource,
        namespace: str | None,
        selectors: Mapping[str, str | None],
        version: str,
        deadline: float,
        cancel: Cancel | None,
        clock: Callable[[], float],
    ):
        """One watch request; returns the version to go on from, or None to list again."""
        seconds = max(1, min(int(deadline - clock()), WATCH_SECONDS))
        query = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": seconds,
            **selectors,
        }
        path = resource.collection_path(namespace)
        try:
            for line in self.rest.stream_lines(
                path, query=query, timeout=seconds + self.rest.timeouts.read, cancel=cancel
            ):
                event = _event_of(line)
                if event is None:  # a web page or a proxy's banner where the watch should stream events
                    what = _what(resource, namespace)
                    raise self.rest.not_json(Response(200, line), "watch", what, context=self.context)
                obj = event.get("object") or {}
                kind = event.get("type")
                if kind == "ERROR":  # almost always 410 Gone: our version is too old to watch from
                    log.debug("watch %s: %s", resource.plural, obj.get("message"))
                    return None
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    yield Event(kind, obj)
                if clock() >= deadline or (cancel and cancel.is_set()):
                    break
        except StreamRefused as refused:
            if refused.response.status == 410:
                return None
            raise self._error(
                refused.response, "watch", _what(resource, namespace), resource.plural, namespace
            ) from None
        return version

    # ---------------------------------------------------------------- errors

    def _ok(
        self, response: Response, verb: str, resource: Resource, namespace: str | None, name: str | None = None
    ) -> dict[str, Any]:
        if not response.ok:
            raise self._error(response, verb, _what(resource, namespace, name), resource.plural, namespace)
        return self.rest.object_of(response, verb, _what(resource, namespace, name), context=self.context)

    def _error(
        self, response: Response, verb: str, what: str, plural: str = "", namespace: str | None = None
    ) -> KubeError:
        return self.rest.error(response, verb, what, plural, namespace, context=self.context)


def _event_of(line: bytes) -> dict[str, Any] | None:
    """One watch event, or None when the line is not one (not JSON, or not an object)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("object") or {}, dict) else None


def _what(resource: Resource, namespace: str | None, name: str | None = None) -> str:
    if name:
        return f"{resource.kind} {namespace}/{name}" if resource.namespaced and namespace else f"{resource.kind} {name}"
    where = (
        f"in namespace {namespace}"
        if resource.namespaced and namespace
        else ("in all namespaces" if resource.namespaced else "")
    )
    return f"{resource.plural} {where}".strip()


__all__ = ["Kube", "Event", "Conflict", "NotFound", "KubeError", "Cancel", "Timeouts"]
