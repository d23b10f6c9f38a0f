"""Plain-text tables of pods, nodes, workloads and events, like the kubectl views people know."""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers)] + [line(r) for r in rows]) + "\n"


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_status(pod: dict[str, Any]) -> tuple[str, str]:
    """(status, reason): CrashLoopBackOff/ImagePullBackOff from container states, the scheduler's
    message for Pending pods, else the phase."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return waiting["reason"], _one_line(waiting.get("message") or container.get("image", ""))
        terminated = state.get("terminated") or {}
        if terminated.get("reason") and terminated.get("exitCode", 0) != 0:
            return terminated["reason"], f"exit {terminated.get('exitCode')}"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return "Pending", _one_line(condition.get("message") or condition.get("reason") or "")
    return status.get("phase", "Unknown"), _one_line(status.get("reason") or status.get("message") or "")


def restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def pods_table(pods: list[dict[str, Any]], reasons: bool = True) -> str:
    """`reasons` False leaves the REASON column out (messages that could not be checked for secrets)."""
    rows = []
    for pod in sorted(pods, key=_ns_name):
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        ready = f"{sum(1 for c in statuses if c.get('ready'))}/{len((pod.get('spec') or {}).get('containers') or [])}"
        status, reason = pod_status(pod)
        rows.append(
            [
                *_ns_name(pod),
                ready,
                status,
                restarts(pod),
                (pod.get("spec") or {}).get("nodeName", "-"),
                reason[:160] if reasons else "(left out)",
            ]
        )
    return table(["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "NODE", "REASON"], rows)


def nodes_table(nodes: list[dict[str, Any]]) -> str:
    rows = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        conditions = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        ready = (conditions.get("Ready") or {}).get("status", "Unknown")
        pressure = [t for t, c in conditions.items() if t != "Ready" and c.get("status") == "True"]
        info = (node.get("status") or {}).get("nodeInfo") or {}
        roles = [
            k.split("/", 1)[1]
            for k in (node["metadata"].get("labels") or {})
            if k.startswith("node-role.kubernetes.io/")
        ]
        rows.append(
            [
                node["metadata"]["name"],
                "Ready" if ready == "True" else f"NotReady({ready})",
                ",".join(roles) or "-",
                info.get("kubeletVersion", "-"),
                ",".join(pressure) or "-",
            ]
        )
    return table(["NAME", "STATUS", "ROLES", "VERSION", "CONDITIONS"], rows)


def workloads_table(workloads: dict[str, list[dict[str, Any]]]) -> str:
    rows = []
    for kind, items in workloads.items():
        for item in sorted(items, key=_ns_name):
            status = item.get("status") or {}
            if kind == "DaemonSet":
                ready, want = status.get("numberReady", 0), status.get("desiredNumberScheduled", 0)
            else:
                ready, want = status.get("readyReplicas", 0), (item.get("spec") or {}).get("replicas", 1)
            rows.append([kind, *_ns_name(item), f"{ready}/{want}", "" if ready >= want else "NOT READY"])
    return table(["KIND", "NAMESPACE", "NAME", "READY", ""], rows)


def events_table(events: list[dict[str, Any]]) -> str:
    def when(event):
        return event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp") or ""

    rows = []
    for event in sorted(events, key=when):
        obj = event.get("involvedObject") or {}
        rows.append(
            [
                when(event),
                event["metadata"].get("namespace", "-"),
                event.get("type", ""),
                event.get("reason", ""),
                f"{obj.get('kind', '')}/{obj.get('name', '')}",
                event.get("count", 1),
                _one_line(event.get("message", "")),
            ]
        )
    return table(["LAST SEEN", "NAMESPACE", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"], rows)


def _ns_name(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("namespace", "-"), obj["metadata"]["name"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
