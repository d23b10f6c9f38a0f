"""`kfbootstrap stop`: end this cluster's background forwards, then stop its node containers, workers first.

The node containers keep their filesystems (etcd, PersistentVolumes under local-path, images, the
Dex and Grafana Secrets in etcd), so nothing is lost; their memory and CPU are free once stopped.
The image caches keep running for other clusters unless `--all`.
"""

from __future__ import annotations

from kfbootstrap import ui
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.lifecycle import kept_forwards
from kfbootstrap.lifecycle.nodes import kind_nodes, stop_order
from kfbootstrap.lifecycle.ownership import require_ours
from kfbootstrap.tools.docker import Containers


def no_such_cluster(name: str) -> KfbError:
    return KfbError(f"there is no Kind cluster {name}", hint="`kfbootstrap up` creates it")


def stop_cluster(ctx: RunContext, include_caches: bool) -> None:
    name = require_ours(ctx.config, "stop")
    nodes = kind_nodes(ctx.runner, name)
    if not nodes:
        raise no_such_cluster(name)
    stopped = kept_forwards.stop_and_keep(ctx.config.kube_context, kept_forwards.kept_file(ctx.cluster_state_dir()))
    if stopped:
        ui.step_done(f"Stop port-forwards ({', '.join(r.spec.target for r in stopped)})", 0.0, "`start` restarts them")
    containers = Containers(ctx.runner)
    for group in stop_order(nodes):
        names = [n.name for n in group]
        title = f"Stop {', '.join(names)}"
        if not any(n.running for n in group):
            ui.step_skipped(title, "not running")
            continue
        with ui.step_line(title) as line:
            containers.stop_together([n.name for n in group if n.running])
        ui.step_done(title, line.elapsed())
    if include_caches:
        _stop_caches(ctx.config, containers)
    ui.info(f"cluster {name} is stopped; `kfbootstrap start` brings it back")


def _stop_caches(config: Config, containers: Containers) -> None:
    from kfbootstrap.cache.ensure import cache_mirrors

    running = [
        m.container for m in cache_mirrors(config) if (state := containers.inspect(m.container)) and state.running
    ]
    if not running:
        ui.step_skipped("Stop the image caches", "none running")
        return
    with ui.step_line("Stop the image caches") as line:
        containers.stop_together(running)
    ui.step_done("Stop the image caches", line.elapsed(), ", ".join(running))
