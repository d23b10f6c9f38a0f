"""Wait until CustomResourceDefinitions are Established, by watching them (no sleep-polling).

A custom resource sent before its CRD is Established is refused ("no matches for
kind"). The apply engine applies CRDs first, then waits here with one watch that
starts at the oldest resourceVersion our applies returned, so no status update
between the apply and the watch is missed; when the server has compacted that
version away (410 Gone) we list once and watch from the list.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kfbootstrap.kube.errors import KubeError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.kube")


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


def wait_established(
    kube: "Kube",
    pending: Mapping[str, str | None],
    deadline: float,
    label_selector: str | None = None,
    on_established: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, str]:
    """Watch until every CRD in `pending` (name -> resourceVersion of our apply) is Established.

    `on_established(name)` is called as each one is (from this thread). Returns the CRDs
    that are not, each with what we last knew ('not Established yet' or why its names
    were rejected). Never raises for a watch that breaks or is refused: it lists and
    watches again until the deadline.
    """
    from kfbootstrap.kube.api import CRDS

    waiting = _Waiting(dict.fromkeys(pending, "not Established yet"), on_established)
    rejected: dict[str, str] = {}
    since = oldest_version(pending)
    while waiting and clock() < deadline:
        try:
            for event in kube.watch(CRDS, labels=label_selector, deadline=deadline, since=since, clock=clock):
                if event.type != "DELETED":
                    for crd in event.objects if event.type == "SYNC" else (event.obj,):
                        _settle(crd, waiting, rejected)
                if not waiting:
                    break
        except KubeError as exc:
            log.debug("watching CRDs failed: %s", exc.message)
            time.sleep(min(1.0, max(0.0, deadline - clock())))
        since = None  # whatever ended the watch, start over from a list
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
    name = str((crd.get("metadata") or {}).get("name") or "")
    if name not in waiting:
        return
    state = crd_state(crd)
    if state == "established":
        waiting.established(name)
    elif state is not None:
        del waiting[name]
        rejected[name] = state
