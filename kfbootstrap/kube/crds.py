"""Wait until CustomResourceDefinitions are Established, by watching them (no sleep-polling).

A custom resource sent before its CRD is Established is refused ("no matches for
kind"). The apply engine applies CRDs first, then waits here with one watch that
starts at the oldest resourceVersion our applies returned, so no status update
between the apply and the watch is missed; when the server has compacted that
version away (410 Gone) we list once and watch from the list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any, Callable, Mapping

from kfbootstrap.kube.rest import KubeRequestError, KubeRest, Response, StreamRefused

log = logging.getLogger("kfbootstrap.kube")

CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def crd_state(crd: Mapping[str, Any]) -> str | None:
    """'established', a reason it never will be (names rejected), or None while pending."""
    for condition in (crd.get("status") or {}).get("conditions") or []:
        kind, status = condition.get("type"), condition.get("status")
        if kind == "Established" and status == "True":
            return "established"
        if kind == "NamesAccepted" and status == "False":
            return f"names not accepted: {condition.get('message') or condition.get('reason')}"
    return None


def oldest_version(versions: Mapping[str, str | None]) -> str | None:
    """The smallest resourceVersion, or None when any is missing or not a number.

    resourceVersions are opaque by contract; when they are not plain numbers we do not
    compare them and list instead.
    """
    values = list(versions.values())
    if not values or any(v is None or not str(v).isdigit() for v in values):
        return None
    return str(min(int(v) for v in values))  # type: ignore[arg-type]


def wait_established(rest: KubeRest, pending: Mapping[str, str | None], deadline: float,
                     label_selector: str | None = None,
                     on_established: Callable[[str], None] | None = None,
                     clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """Watch until every CRD in `pending` (name -> resourceVersion of our apply) is Established.

    `on_established(name)` is called as each one is (from this thread). Returns the CRDs
    that are not, each with what we last knew ('not Established yet' or why its names
    were rejected). Never raises for a watch that breaks: it re-lists and re-watches
    until the deadline.
    """
    waiting = _Waiting(dict.fromkeys(pending, "not Established yet"), on_established)
    rejected: dict[str, str] = {}
    version = oldest_version(pending)
    while waiting and clock() < deadline:
        if version is None:
            try:
                version = _list(rest, waiting, rejected, label_selector)
            except KubeRequestError as exc:
                log.debug("listing CRDs failed: %s", exc)
                time.sleep(min(1.0, max(0.0, deadline - clock())))
                continue
            if not waiting:
                break
        version = _watch(rest, waiting, rejected, version, deadline, label_selector, clock)
        if version is None and waiting:
            time.sleep(min(0.5, max(0.0, deadline - clock())))  # the watch broke: do not hammer the server
    return {**rejected, **waiting}


class _Waiting(dict):
    """The CRDs still pending; telling the caller the moment one leaves the set as Established."""

    def __init__(self, names: dict[str, str], on_established: Callable[[str], None] | None):
        super().__init__(names)
        self.on_established = on_established

    def established(self, name: str) -> None:
        del self[name]
        if self.on_established is not None:
            self.on_established(name)


def _settle(crd: Mapping[str, Any], waiting: _Waiting, rejected: dict[str, str]) -> None:
    name = (crd.get("metadata") or {}).get("name")
    if name not in waiting:
        return
    state = crd_state(crd)
    if state == "established":
        waiting.established(name)
    elif state is not None:
        del waiting[name]
        rejected[name] = state


def _list(rest: KubeRest, waiting: _Waiting, rejected: dict[str, str],
          label_selector: str | None) -> str:
    listing = rest.get_json(CRDS_PATH, query={"labelSelector": label_selector})
    if listing is None:
        raise rest.failed("GET", CRDS_PATH, Response(404, b"the CRD API is not served"))
    for crd in listing.get("items") or []:
        _settle(crd, waiting, rejected)
    return str(listing["metadata"]["resourceVersion"])


def _watch(rest: KubeRest, waiting: _Waiting, rejected: dict[str, str], version: str,
           deadline: float, label_selector: str | None, clock: Callable[[], float]) -> str | None:
    """One watch request; returns the version to resume from, or None to re-list."""
    remaining = max(1, int(deadline - clock()))
    query = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true",
             "timeoutSeconds": min(remaining, 60), "labelSelector": label_selector}
    try:
        with contextlib.closing(rest.stream_lines(CRDS_PATH, query=query,
                                                  timeout=min(remaining, 60) + rest.timeouts.read)) as lines:
            for line in lines:
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    log.debug("CRD watch error: %s", obj.get("message"))
                    return None  # usually 410 Gone: list again
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if event.get("type") in ("ADDED", "MODIFIED"):
                    _settle(obj, waiting, rejected)
                if not waiting or clock() >= deadline:
                    break
    except StreamRefused as exc:
        log.debug("CRD watch failed: %s", exc)
        return None
    return version
