"""The cluster steps: create (or reuse) our Kind cluster, or check an existing cluster answers."""

from __future__ import annotations

import copy
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from kfbootstrap import ui
from kfbootstrap.cache.hosts_toml import CERTS_DIR
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.logsetup import where_logged
from kfbootstrap.kubeadm_patches import (
    KUBELET_CGROUP_V1_PATCH,
    adapt_kind_config,
    allows_cgroup_v1,
    node_version,
    refuses_cgroup_v1,
)
from kfbootstrap.steps.base import Step
from kfbootstrap.tools.docker import Docker
from kfbootstrap.tools.kind import MAX_LINE, Kind, KindFailed
from kfbootstrap.tools.kubectl import Kubectl

log = logging.getLogger("kfbootstrap.cluster")


def base_kind_config(config: Config) -> str:
    """The user's kind config if given, else the packaged kind-config.yaml."""
    if config.cluster.kind_config is not None:
        return config.cluster.kind_config.read_text(encoding="utf-8")
    return resources.files("kfbootstrap").joinpath("data/kind-config.yaml").read_text(encoding="utf-8")


# What to do about cgroup v1, said by doctor and by `up`.
CGROUP_V2_HOWTO = (
    "cgroup v1 is deprecated and kubelet will drop it: move Docker's host to cgroup v2 (Linux: boot with "
    "systemd.unified_cgroup_hierarchy=1 on the kernel command line, e.g. in GRUB_CMDLINE_LINUX, and reboot; "
    "Docker Desktop runs v2)"
)
USERS_PATCH_HOWTO = (
    "add at the top level of cluster.kind_config: "
    'kubeadmConfigPatches: ["kind: KubeletConfiguration\\nfailCgroupV1: false"]'
)


def parse_kind_config(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"kind config is not valid YAML: {exc}", hint="check cluster.kind_config") from None
    if not isinstance(data, dict):
        raise ConfigError("kind config is not a YAML mapping", hint="check cluster.kind_config")
    return data


# kind's documented patch that makes every node's containerd read hosts.toml from CERTS_DIR, where the
# image cache writes them: containerd 2.1 (kind v0.30's nodes) has no default config_path; 2.2 and
# newer default to "/etc/containerd/certs.d:/etc/docker/certs.d".
CONTAINERD_CERTS_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"'
_SETS_CONFIG_PATH = re.compile(r'^\s*(\S+\.)?"?config_path"?\s*=', re.MULTILINE)


def render_kind_config(
    base_yaml: str, workers: int, node_image: str, cgroup_version: str | None = None, users_config: bool = False
) -> str:
    """Set every node's image, repeat the first worker entry `workers` times and write the
    kubeadm patches in the form that image's kubeadm reads (see kubeadm_patches).

    `cgroup_version` is Docker's ("1", "2" or None when unknown): on "1", for a kubelet that refuses
    cgroup v1 (Kubernetes >= 1.35), a cluster-wide KubeletConfiguration patch with `failCgroupV1:
    false` is added, unless `users_config` (the base is the user's cluster.kind_config: it keeps
    what it says) or the base already sets it.

    Every config gets CONTAINERD_CERTS_PATCH (the image cache's hosts.toml are read only through
    it), unless one of its containerdConfigPatches already sets a config_path: that one is kept.
    """
    data = parse_kind_config(base_yaml)
    nodes = data.get("nodes") or [{"role": "control-plane"}]
    control_planes = [n for n in nodes if n.get("role", "control-plane") == "control-plane"]
    if not control_planes:
        raise ConfigError("kind config has no control-plane node", hint="add `- role: control-plane` under nodes")
    worker_template = next((n for n in nodes if n.get("role") == "worker"), {"role": "worker"})
    data["nodes"] = control_planes + [copy.deepcopy(worker_template) for _ in range(workers)]
    for node in data["nodes"]:
        node["image"] = node_image
    adapt_kind_config(data, node_image)
    if cgroup_version == "1" and refuses_cgroup_v1(node_image) and not users_config and not allows_cgroup_v1(data):
        data["kubeadmConfigPatches"] = [*(data.get("kubeadmConfigPatches") or []), KUBELET_CGROUP_V1_PATCH]
    containerd_patches = data.get("containerdConfigPatches") or []
    if not any(isinstance(patch, str) and _SETS_CONFIG_PATH.search(patch) for patch in containerd_patches):
        data["containerdConfigPatches"] = [*containerd_patches, CONTAINERD_CERTS_PATCH]
    return yaml.dump(data, Dumper=_KindConfigDumper, sort_keys=False)


class _KindConfigDumper(yaml.SafeDumper):
    """Multi-line strings (the patches) as `|` blocks, as kind's documentation writes them."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted scalar by itself where a block cannot hold the text.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_KindConfigDumper.add_representer(str, _str_representer)


def kubelet_of(node_image: str) -> str:
    """'Kubernetes 1.36' for a node image whose tag says so, else the image."""
    version = node_version(node_image)
    return f"Kubernetes {version[0]}.{version[1]}" if version else node_image


def cgroup_v1_warning(
    rendered: dict[str, Any], node_image: str, cgroup_version: str | None, users_config: bool
) -> str | None:
    """What `up` says about a cgroup v1 host, given the kind config it hands to kind; None when nothing."""
    if cgroup_version != "1" or not refuses_cgroup_v1(node_image):
        return None
    kubelet = kubelet_of(node_image)
    if not allows_cgroup_v1(rendered):
        return (
            f"Docker runs cgroup v1 and cluster.kind_config does not set failCgroupV1: false: the kubelet of "
            f"{kubelet} will refuse to start; {USERS_PATCH_HOWTO}, or move to cgroup v2"
        )
    if users_config:
        return None  # the user's own config already says it
    return (
        f"Docker runs cgroup v1: added failCgroupV1: false to the kubelet configuration (the kubelet of "
        f"{kubelet} refuses to start on cgroup v1 without it); {CGROUP_V2_HOWTO}"
    )


def users_kind_config_allows_cgroup_v1(config: Config) -> bool:
    """Does the user's cluster.kind_config set failCgroupV1: false for every kubelet? False when it
    cannot be read (`up` says then what is wrong with it)."""
    try:
        return allows_cgroup_v1(parse_kind_config(base_kind_config(config)))
    except (KfbError, OSError):
        return False


def create_failed(kind: Kind, name: str, exc: KindFailed) -> KindFailed:
    """A failed `kind create cluster --retain`: kind's ERROR line, then the first cause found in the
    node (kubelet's last error), with its nodes deleted so a re-run starts clean."""
    node = f"{name}-control-plane"
    journal = kind.kubelet_journal(name)
    if journal:
        log.info("kubelet's journal on %s after the failed create:\n%s", node, journal)
    cause = kubelet_cause(journal)
    try:
        kind.delete(name)
        left = "its nodes were deleted, so a re-run starts clean"
    except KfbError as delete_failed:
        left = (
            f"its nodes are left ({delete_failed.message}): `kfbootstrap diagnose` collects their logs, "
            "`kfbootstrap down` deletes them"
        )
    hints = []
    if cause and ("failCgroupV1" in cause or "cgroup v1" in cause):
        hints.append(
            "kubelet refuses this cgroup v1 host: give it failCgroupV1: false "
            f"({USERS_PATCH_HOWTO}) or move to cgroup v2"
        )
    hints += [left, f"kind's full output and kubelet's journal are in {where_logged()}"]
    message = exc.message + (f"\nkubelet's last error on {node}: {cause}" if cause else "")
    return KindFailed(message, exc.line, hint="; ".join(hints))


# journalctl's short prefix ("Dec 02 10:00:00 kfb-control-plane kubelet[123]: ") and klog's header
# ('E1202 10:00:00.000000     123 run.go:72] ').
_JOURNAL_PREFIX = re.compile(r"^[A-Z][a-z]{2} [ \d]\d [\d:]{8} \S+ (?P<unit>[^\s\[:]+)(\[\d+\])?: ")
_KLOG_HEADER = re.compile(r"^(?P<severity>[IWEF])\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_STRUCTURED = re.compile(r'^"(?P<msg>(?:[^"\\]|\\.)*)"(?:.*?\berr="(?P<err>(?:[^"\\]|\\.)*)")?')
_ERROR_WORDS = re.compile(r"error|failed|failCgroupV1|cgroup v1", re.IGNORECASE)


def kubelet_cause(journal: str) -> str | None:
    """kubelet's last error line in its journal, short: the fatal "failed to run Kubelet" if there is
    one, else its last error-level line, else its last line that speaks of an error. None: none."""
    said = []
    for line in journal.splitlines():
        prefix = _JOURNAL_PREFIX.match(line)
        if prefix and prefix.group("unit") != "kubelet":
            continue  # systemd's own lines about the unit ("Main process exited"): no cause
        text = (line[prefix.end() :] if prefix else line).strip()
        if text:
            said.append(text)
    for wanted in (_fatal, _error_level, _speaks_of_an_error):
        found = [text for text in said if wanted(text)]
        if found:
            return _short(found[-1])
    return None


def _fatal(text: str) -> bool:
    return "failed to run Kubelet" in text


def _error_level(text: str) -> bool:
    header = _KLOG_HEADER.match(text)
    return header is not None and header.group("severity") in "EF"


def _speaks_of_an_error(text: str) -> bool:
    return _ERROR_WORDS.search(text) is not None


def _short(text: str) -> str:
    """Without klog's header; a structured line ('"msg" err="..."') as 'msg: err'."""
    header = _KLOG_HEADER.match(text)
    text = text[header.end() :] if header else text
    structured = _STRUCTURED.match(text)
    if structured and structured.group("err"):
        text = f"{_unquote(structured.group('msg'))}: {_unquote(structured.group('err'))}"
    return text[:MAX_LINE]


def _unquote(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def kube_api_ready(ctx: RunContext, context: str | None) -> bool:
    """Does the API server behind this kube context answer /readyz?"""
    return Kubectl(ctx.runner, context).api_ready()


class ClusterStep(Step):
    """Create our Kind cluster, reuse it when it is healthy, re-create it when a run was cut short."""

    name = "cluster"
    title = "Create Kind cluster"

    def heading(self, ctx: RunContext) -> str:
        return f"{self.title} {ctx.config.cluster.name}"

    def describe(self, ctx: RunContext) -> str:
        return "Create the Kind cluster from kind-config.yaml (reused when it already exists and answers)"

    def is_done(self, ctx: RunContext) -> bool:
        return Kind(ctx.runner).exists(ctx.config.cluster.name) and kube_api_ready(ctx, ctx.config.kube_context)

    def run(self, ctx: RunContext) -> str | None:
        kind = Kind(ctx.runner)
        name = ctx.config.cluster.name
        if kind.exists(name):
            # Listed but not answering: an interrupted create. kind cannot resume one, so start over.
            ui.warn(f"cluster {name} exists but its API server does not answer; deleting and re-creating it")
            kind.delete(name)
        config_path = self._write_kind_config(ctx)
        try:
            kind.create(name, config_path, wait_seconds=ctx.config.timeouts.cluster, retain=True)
        except KindFailed as exc:
            raise create_failed(kind, name, exc) from None
        workers = ctx.config.cluster.workers
        return f"1 control plane, {workers} worker{'s' if workers != 1 else ''}"

    def _write_kind_config(self, ctx: RunContext) -> Path:
        cluster = ctx.config.cluster
        cgroup_version = Docker(ctx.runner).cgroup_version()
        users_config = cluster.kind_config is not None
        rendered = render_kind_config(
            base_kind_config(ctx.config), cluster.workers, cluster.node_image, cgroup_version, users_config
        )
        warning = cgroup_v1_warning(yaml.safe_load(rendered), cluster.node_image, cgroup_version, users_config)
        if warning:
            ui.warn(escape(warning))
        path = ctx.cluster_state_dir() / "kind-config.yaml"
        path.write_text(rendered, encoding="utf-8")
        return path


class ExistingClusterStep(Step):
    """Install onto a cluster we did not create: only check that its context exists and answers."""

    name = "cluster"
    title = "Use existing cluster"

    def heading(self, ctx: RunContext) -> str:
        return f"{self.title} (context {ctx.config.kube_context or 'current'})"

    def describe(self, ctx: RunContext) -> str:
        return "Use the existing cluster of the chosen kube context (nothing is created)"

    def run(self, ctx: RunContext) -> str | None:
        context = ctx.config.kube_context
        kubectl = Kubectl(ctx.runner)
        contexts = kubectl.contexts()
        if context is None:
            context = kubectl.current_context()
        if context not in contexts:
            raise KfbError(
                f"kube context {context!r} not found",
                hint=f"known contexts: {', '.join(contexts) or 'none'}; pass one with --context",
            )
        if not kube_api_ready(ctx, context):
            raise KfbError(
                f"the API server of context {context!r} does not answer /readyz",
                hint=f"check `kubectl --context {context} get nodes`",
            )
        return f"context {context}"
