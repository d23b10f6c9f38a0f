"""Collect everything about a cluster into one redacted tar.gz.

Best effort by design: diagnose runs when something already failed, so each part
that cannot be collected (no cluster, no helm, no kind) is written down in
summary.txt and the rest still lands in the bundle. The one thing that is never
best effort is redaction: when the Secrets cannot be read (so their values are
unknown), logs, events, ConfigMaps and `kind export logs` are left out.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from kfbootstrap.diagnose import tables
from kfbootstrap.diagnose.redact import MASK, Redactor, redact_pod_env
from kfbootstrap.errors import KfbError
from kfbootstrap.tools.helm import Helm
from kfbootstrap.tools.versions import version_argv

log = logging.getLogger("kfbootstrap.diagnose")

MAX_LOG_PODS = 60
# Public CA bundles copied into every namespace: noise in a bundle.
SKIPPED_CONFIG_MAPS = {"kube-root-ca.crt", "istio-ca-root-cert"}


@dataclass
class BundleResult:
    path: Path
    files: int
    problems: list[str] = field(default_factory=list)
    masked: int = 0
    not_ready_pods: int = 0


@dataclass
class Collector:
    """Writes files into the bundle directory and remembers what could not be collected."""

    root: Path
    problems: list[str] = field(default_factory=list)

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="replace")

    def write_yaml(self, relative: str, data: Any) -> None:
        self.write(relative, _dump_yaml(data))

    def problem(self, text: str) -> None:
        log.info("diagnose: %s", text)
        self.problems.append(text)


def build_bundle(
    config,
    config_yaml: str,
    runner,
    out_dir: Path,
    *,
    connect: Callable[[], Any] | None = None,
    now: _dt.datetime | None = None,
) -> BundleResult:
    """Collect, redact, pack. `connect` returns a kube.inventory.Cluster (tests pass the testbed's)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    name = f"kfbootstrap-diagnose-{config.cluster.name}-{now.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kfb-diagnose-") as tmp:
        collector = Collector(Path(tmp) / name)
        collector.root.mkdir()
        redactor = Redactor()
        collector.write("config.yaml", config_yaml)
        versions = _tool_versions(runner, config.charts.helm)
        summary = _collect_cluster(config, collector, redactor, versions, connect)
        collector.write_yaml("versions.yaml", versions)
        _collect_helm(config, runner, collector)
        if summary.get("secrets_known"):
            _collect_kind_logs(config, runner, collector)
        collector.write("summary.txt", _summary_text(config, summary, collector.problems, now))
        files = _scrub_tree(collector.root, redactor)
        path = out_dir / f"{name}.tar.gz"
        _pack(collector.root, path)
    return BundleResult(path, files, collector.problems, redactor.masked, summary.get("not_ready", 0))


# --------------------------------------------------------------------------- the cluster


def _collect_cluster(
    config, collector: Collector, redactor: Redactor, versions: dict[str, Any], connect: Callable[[], Any] | None
) -> dict[str, Any]:
    from kfbootstrap.context import api_timeouts
    from kfbootstrap.kube import inventory

    summary: dict[str, Any] = {}
    try:
        cluster = (
            connect()
            if connect
            else inventory.Cluster.connect(
                config.kube_context, api_timeouts(config), os.environ.get("KUBECONFIG") or None
            )
        )
        versions["kubernetes server"] = inventory.server_version(cluster)
    except (KfbError, inventory.InventoryError) as exc:
        collector.problem(f"cluster not reachable, no cluster state collected: {getattr(exc, 'message', exc)}")
        return summary
    try:
        secrets = inventory.secrets(cluster)
        summary["secrets"] = sum(1 for s in secrets if redactor.add_secret(s))
        summary["secrets_known"] = True
    except inventory.InventoryError as exc:
        collector.problem(
            f"{exc}; without the secret values to redact, logs, events, ConfigMaps and kind logs are left out"
        )
    known = bool(summary.get("secrets_known"))
    pods = _part(collector, "pods", lambda: inventory.pods(cluster)) or []
    for pod in pods:
        redact_pod_env(pod, redactor)
        _strip(pod)
    # Masked before any table collapses whitespace or cuts a cell, and before YAML quotes anything.
    pods = redactor.scrub_data(pods)
    if known:
        collector.write_yaml("cluster/pods.yaml", pods)
    else:  # statuses quote programs' messages, which may hold a password we cannot recognise
        collector.problem(
            "pods.yaml and the pods' status messages are left out: the secret values to redact them with are unknown"
        )
    collector.write("cluster/pods.txt", tables.pods_table(pods, reasons=known))
    nodes = _part(collector, "nodes", lambda: inventory.nodes(cluster)) or []
    collector.write_yaml("cluster/nodes.yaml", [_strip(n) for n in nodes])
    collector.write("cluster/nodes.txt", tables.nodes_table(nodes))
    workloads = _part(collector, "workloads", lambda: inventory.workloads(cluster))
    if workloads:
        collector.write("cluster/workloads.txt", tables.workloads_table(workloads))
    not_ready = [p for p in pods if not tables.pod_ready(p) and (p.get("status") or {}).get("phase") != "Succeeded"]
    summary.update(pods=len(pods), nodes=len(nodes), not_ready=len(not_ready))
    collector.write("cluster/not-ready-pods.txt", tables.pods_table(not_ready, reasons=known))
    if known:
        events = redactor.scrub_data(_part(collector, "events", lambda: inventory.events(cluster)) or [])
        collector.write("cluster/events.txt", tables.events_table(events))
        maps = _part(collector, "configmaps", lambda: inventory.config_maps(cluster)) or []
        collector.write_yaml(
            "cluster/configmaps.yaml",
            redactor.scrub_data([_strip(m) for m in maps if m["metadata"]["name"] not in SKIPPED_CONFIG_MAPS]),
        )
        _collect_logs(cluster, not_ready, collector)
    return summary


def _collect_logs(cluster, not_ready: list[dict[str, Any]], collector: Collector) -> None:
    """Logs of every container of not-ready pods (and of the previous run when it restarted)."""
    from kfbootstrap.kube import inventory

    if len(not_ready) > MAX_LOG_PODS:
        collector.problem(f"{len(not_ready)} pods are not ready; logs collected for the first {MAX_LOG_PODS}")
    for pod in not_ready[:MAX_LOG_PODS]:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        if not (pod.get("spec") or {}).get("nodeName"):
            continue  # never scheduled: no container has run, so there is no log
        restarted = {
            c["name"] for c in (pod.get("status") or {}).get("containerStatuses") or [] if c.get("restartCount")
        }
        containers = [
            c["name"] for group in ("initContainers", "containers") for c in (pod.get("spec") or {}).get(group) or []
        ]
        for container in containers:
            for previous in [False, True] if container in restarted else [False]:
                suffix = ".previous.log" if previous else ".log"
                try:
                    text = inventory.pod_log(cluster, namespace, name, container, previous)
                except inventory.InventoryError as exc:
                    text = f"(could not read the log: {exc})\n"
                collector.write(f"logs/{namespace}/{name}/{container}{suffix}", text)


def _part(collector: Collector, what: str, fetch: Callable[[], Any]) -> Any:
    from kfbootstrap.kube.inventory import InventoryError

    try:
        return fetch()
    except InventoryError as exc:
        collector.problem(str(exc))
        return None


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    """managedFields and last-applied copies double the size and add nothing for debugging."""
    metadata = obj.get("metadata") or {}
    metadata.pop("managedFields", None)
    (metadata.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


# --------------------------------------------------------------------------- tools


def _tool_versions(runner, helm: str = "helm") -> dict[str, Any]:
    from kfbootstrap import __version__

    versions: dict[str, Any] = {
        "kfbootstrap": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for tool in ("kind", "kubectl", "helm", "docker"):
        argv = version_argv(tool, helm if tool == "helm" else None)
        try:
            result = runner.run(argv, check=False, timeout=30)
            text = " ".join((result.stdout.strip() or result.stderr.strip()).split())[:300]
            versions[tool] = text if result.ok else f"error (exit {result.exit_code}): {text}"
        except KfbError as exc:
            versions[tool] = exc.message
    return versions


def _collect_helm(config, runner, collector: Collector) -> None:
    """Every release in every state, through pyhelm3 (helm 3 and 4 list states differently)."""
    try:
        helm = Helm(runner, config.charts.helm, context=config.kube_context, api_timeout=config.timeouts.api)
        releases = helm.list_all()
    except KfbError as exc:
        collector.problem(f"helm releases not collected: {exc.message}")
        return
    collector.write("helm-releases.json", json.dumps(releases, indent=2) + "\n")
    stuck = [r for r in releases if isinstance(r, dict) and str(r.get("status", "")).startswith("pending")]
    for release in stuck:
        collector.problem(f"helm release {release.get('namespace')}/{release.get('name')} is {release.get('status')}")


def _collect_kind_logs(config, runner, collector: Collector) -> None:
    """`kind export logs` when the cluster is a Kind cluster kfbootstrap created."""
    if config.cluster.existing:
        return
    from kfbootstrap.tools.kind import Kind

    kind = Kind(runner)
    try:
        if not kind.exists(config.cluster.name):
            collector.problem(f"no Kind cluster {config.cluster.name}: kind logs not collected")
            return
        kind.export_logs(config.cluster.name, collector.root / "kind-logs")
    except KfbError as exc:
        collector.problem(f"kind logs not collected: {exc.message}")


# --------------------------------------------------------------------------- summary, scrub, pack


def _summary_text(config, summary: dict[str, Any], problems: list[str], now: _dt.datetime) -> str:
    lines = [
        f"kfbootstrap diagnose bundle, {now.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        f"cluster: {config.cluster.name} (context {config.kube_context or 'current'}), "
        f"profile {config.profile}, Kubeflow {config.kubeflow.version}",
        f"Kubeflow apps: {_apps_line(config)}",
        f"pods: {summary.get('pods', '?')}, not ready: {summary.get('not_ready', '?')}, "
        f"nodes: {summary.get('nodes', '?')}",
        "",
        f"Secret values are replaced by {MASK} in every file: the values of all "
        f"{summary.get('secrets', '?')} Secrets of the cluster, and env vars named like "
        "PASSWORD/SECRET/TOKEN/KEY. Secret objects are not included.",
        "",
        "Files: cluster/not-ready-pods.txt first, then cluster/events.txt, logs/<namespace>/<pod>/,",
        "cluster/{pods,nodes,configmaps}.yaml, helm-releases.json, versions.yaml, config.yaml, kind-logs/.",
        "",
        "Not collected:" if problems else "Everything was collected.",
        *[f"  - {p}" for p in problems],
    ]
    return "\n".join(lines) + "\n"


def _apps_line(config) -> str:
    """What this config installs of Kubeflow, so a reader does not look for what was never chosen."""
    from kfbootstrap.apps.plan import chosen_parts

    if config.kubeflow.apps is None:
        return "everything in the release's example"
    return f"{', '.join(config.kubeflow.apps)} (with {', '.join(chosen_parts(config))})"


def _scrub_tree(root: Path, redactor: Redactor) -> int:
    """The last word on secrets: mask known values in every file, whatever wrote it."""
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        scrubbed = redactor.scrub(data)
        if scrubbed != data:
            path.write_bytes(scrubbed)
        count += 1
    for link in [p for p in root.rglob("*") if p.is_symlink()]:
        link.unlink()  # a link could point outside the bundle at anything
    return count


def _pack(root: Path, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # cluster details: owner only
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.add(root, arcname=root.name)
    partial.replace(path)


class _BundleDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line strings double-quoted on one line ("a\\nb"): the escaped form the redactor knows,
    where YAML's own styles would re-indent each line."""


def _represent_str(dumper: Any, value: str) -> Any:
    style = '"' if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BundleDumper.add_representer(str, _represent_str)


def _dump_yaml(data: Any) -> str:
    dumper = _BundleDumper
    # No line folding: a value cut over two lines would escape the file-level scrub.
    return yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=2**31 - 1
    )
