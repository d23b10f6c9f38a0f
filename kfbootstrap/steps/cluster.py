"""The cluster steps: create (or reuse) our Kind cluster, or check an existing cluster answers."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kfbootstrap import ui
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.kubeadm_patches import adapt_kind_config
from kfbootstrap.steps.base import Step
from kfbootstrap.tools.kind import Kind
from kfbootstrap.tools.kubectl import Kubectl


def base_kind_config(config: Config) -> str:
    """The user's kind config if given, else the packaged kind-config.yaml."""
    if config.cluster.kind_config is not None:
        return config.cluster.kind_config.read_text(encoding="utf-8")
    return resources.files("kfbootstrap").joinpath("data/kind-config.yaml").read_text(encoding="utf-8")


def render_kind_config(base_yaml: str, workers: int, node_image: str) -> str:
    """Set every node's image, repeat the first worker entry `workers` times and write the
    kubeadm patches in the form that image's kubeadm reads (see kubeadm_patches)."""
    try:
        data: dict[str, Any] = yaml.safe_load(base_yaml) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"kind config is not valid YAML: {exc}", hint="check cluster.kind_config") from None
    nodes = data.get("nodes") or [{"role": "control-plane"}]
    control_planes = [n for n in nodes if n.get("role", "control-plane") == "control-plane"]
    if not control_planes:
        raise ConfigError("kind config has no control-plane node", hint="add `- role: control-plane` under nodes")
    worker_template = next((n for n in nodes if n.get("role") == "worker"), {"role": "worker"})
    data["nodes"] = control_planes + [copy.deepcopy(worker_template) for _ in range(workers)]
    for node in data["nodes"]:
        node["image"] = node_image
    adapt_kind_config(data, node_image)
    return yaml.safe_dump(data, sort_keys=False)


def kube_api_ready(ctx: RunContext, context: str | None) -> bool:
    """Does the API server behind this kube context answer /readyz?"""
    return Kubectl(ctx.runner, context).api_ready()


class ClusterStep(Step):
    """Create our Kind cluster, reuse it when it is healthy, re-create it when a run was cut short."""

    name = "cluster"

    def __init__(self, config: Config) -> None:
        self.title = f"Create Kind cluster {config.cluster.name}"

    def describe(self) -> str:
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
        kind.create(name, config_path, wait_seconds=ctx.config.timeouts.cluster)
        workers = ctx.config.cluster.workers
        return f"1 control plane, {workers} worker{'s' if workers != 1 else ''}"

    def _write_kind_config(self, ctx: RunContext) -> Path:
        rendered = render_kind_config(
            base_kind_config(ctx.config), ctx.config.cluster.workers, ctx.config.cluster.node_image
        )
        path = ctx.cluster_state_dir() / "kind-config.yaml"
        path.write_text(rendered, encoding="utf-8")
        return path


class ExistingClusterStep(Step):
    """Install onto a cluster we did not create: only check that its context exists and answers."""

    name = "cluster"

    def __init__(self, config: Config) -> None:
        self.title = f"Use existing cluster (context {config.kube_context or 'current'})"

    def describe(self) -> str:
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
