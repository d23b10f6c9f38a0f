"""The image-cache step of `up`: start (or reuse) the caches, then point every node at them.

Runs right after the cluster step, before anything is applied, so every image the
platform pulls goes through a cache. Only for the Kind cluster `up` creates (or reuses by
name), never for a `--context` cluster (see pipeline.build_steps): that one keeps its nodes'
registry settings. A node whose containerd does not read certs.d gets no hosts.toml, and a
cluster none of whose nodes read it gets no cache at all: one warning says so and how to fix it.
"""

from __future__ import annotations

from rich.markup import escape

from kfbootstrap import ui
from kfbootstrap.cache import nodes, proxies
from kfbootstrap.cache.ensure import cache_mirrors, ensure_what_can_run, wanted_for
from kfbootstrap.cache.hosts_toml import CERTS_DIR
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step
from kfbootstrap.tools.docker import Containers
from kfbootstrap.tools.kind import Kind


class CacheStep(Step):
    name = "cache"

    title = "Set up the image cache"

    def heading(self, ctx: RunContext) -> str:
        return f"{self.title} ({_registries(ctx.config)})"

    def describe(self, ctx: RunContext) -> str:
        return (
            f"Start a pull-through cache per registry ({_registries(ctx.config)}) on the {ctx.config.cache.network} "
            "network and point "
            "every node's containerd at it (hosts.toml; the upstream stays the fallback)"
        )

    def is_done(self, ctx: RunContext) -> bool:
        """Every cache running exactly as wanted (image, upstream, credentials, network) and every node pointed at it."""
        containers = Containers(ctx.runner)
        mirrors = cache_mirrors(ctx.config)
        for mirror in mirrors:
            state = containers.inspect(mirror.container)
            if state is None or not state.running or ctx.config.cache.network not in state.networks:
                return False
            if proxies.differences(state, wanted_for(ctx.config, mirror, ctx.runner)):
                return False
        node_names = Kind(ctx.runner).nodes(ctx.config.cluster.name)
        return bool(node_names) and all(
            nodes.configured(containers, n, mirrors) and nodes.check(containers, n).reads is not False
            for n in node_names
        )  # a node that ignores certs.d is never done: each `up` says so again

    def run(self, ctx: RunContext) -> str | None:
        containers = Containers(ctx.runner)
        checks = [nodes.check(containers, node) for node in Kind(ctx.runner).nodes(ctx.config.cluster.name)]
        unknown: dict[str, list[str]] = {}
        for check in checks:
            if check.reads is None:
                unknown.setdefault(check.why, []).append(check.node)
        for why, names in unknown.items():
            ui.warn(
                f"cannot tell whether containerd on {', '.join(names)} reads {CERTS_DIR} ({escape(why)}): "
                "hosts.toml is written there anyway and is used only if containerd reads it"
            )
        blind = [c.node for c in checks if c.reads is False]
        if checks and len(blind) == len(checks):
            ui.warn(_ignores_certs_d(blind, "this cluster's pulls skip the cache, so no cache is started for it"))
            return f"no cache: no node reads {CERTS_DIR}"
        if blind:
            ui.warn(_ignores_certs_d(blind, "their pulls skip the cache"))
        outcomes, failed = ensure_what_can_run(ctx.config, containers, ctx.runner, ctx.config.cache.network)
        for registry, why in failed.items():
            ui.warn(f"no cache for {registry}, its images are pulled from the upstream: {why}")
        mirrors = [o.mirror for o in outcomes]
        pointed = [c.node for c in checks if c.reads is not False]
        for node in pointed:
            nodes.configure(containers, node, mirrors)
        actions: dict[str, int] = {}
        for outcome in outcomes:
            actions[outcome.action] = actions.get(outcome.action, 0) + 1
        summary = ", ".join(f"{count} {action}" for action, count in sorted(actions.items())) or "none running"
        if failed:
            summary += f", {len(failed)} failed"
        note = f"caches {summary}; {len(pointed)} node{'s' if len(pointed) != 1 else ''} pointed at them"
        return note + (
            f", not the {len(blind)} that ignore{'s' if len(blind) == 1 else ''} {CERTS_DIR}" if blind else ""
        )


def _registries(config: Config) -> str:
    count = len(config.cache.registries)
    return f"{count} registr{'y' if count == 1 else 'ies'}"


def _ignores_certs_d(names: list[str], meaning: str) -> str:
    """The one line for nodes whose containerd reads no hosts.toml from CERTS_DIR: which, what it means, the fix."""
    return (
        f"containerd on {', '.join(names)} does not read {CERTS_DIR} (the registry config_path that "
        f"`containerd config dump` shows does not list it; no hosts.toml written there): {meaning}; to use the cache, "
        "recreate the cluster with `kfbootstrap down` then `kfbootstrap up` (kfbootstrap's kind config sets "
        "config_path), or add kind's containerdConfigPatches entry for config_path to your own kind config"
    )
