"""What `kfbootstrap render` writes: the objects `up` would apply, as YAML, and the chart archives.

A directory of both can be given back as kubeflow.path on a machine without network. The
command line chooses where it goes and says what was written.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfbootstrap.config import Config

if TYPE_CHECKING:
    from kfbootstrap.components import ChartPin
    from kfbootstrap.tools.runner import Runner


@dataclass(frozen=True)
class Exported:
    """One render as `up` applies it: `count` objects as YAML `text`, rendered from `origin`."""

    count: int
    text: str
    origin: str


def export_render(config: Config, runner: "Runner", name: str) -> Exported:
    """The objects of render `name` with kfbootstrap's labels; raises manifests.NotSeparate when the
    source has no separate render of it."""
    from kfbootstrap.kube.objects import dump_manifests, for_apply, refuse_duplicates
    from kfbootstrap.manifests import render_named

    component = "model_registry" if name.startswith("model-registry-") else name
    rendered = render_named(config, runner, name)
    chosen = _chosen(config, name, rendered)
    # `up` refuses a render that names an object twice (the later copy would silently win): so does render.
    refuse_duplicates(chosen, component, "kubeflow" if component == "model_registry" else None)
    objects = [for_apply(obj, component) for obj in chosen]
    return Exported(len(objects), dump_manifests(objects), rendered.origin)


def _chosen(config: Config, name: str, rendered: Any) -> list:
    """What `up` applies of a render: for Kubeflow, the chosen apps only (kfbootstrap/apps)."""
    if name != "kubeflow":
        return rendered.objects()
    from kfbootstrap.apps.plan import selection_for

    return selection_for(config, rendered).objects


def enabled_charts(config: Config) -> list["ChartPin"]:
    """The pinned chart of every enabled component that installs one."""
    from kfbootstrap.charts import CHART_PINS

    return [CHART_PINS[name] for name in config.components.enabled() if name in CHART_PINS]


def bundle_chart(config: Config, runner: "Runner", pin: "ChartPin", directory: Path) -> tuple[Path, str]:
    """Put the chart's archive (or a local chart's directory) into `directory`: where it went, and its version."""
    from kfbootstrap.charts import chart_source
    from kfbootstrap.tools.helm import Helm

    source = chart_source(pin, config.charts)
    if not source.local:
        return Helm(runner, config.charts.helm).pull(source, pin.chart, directory), source.version
    origin = Path(source.ref)
    target = directory / (f"{pin.chart}-{source.version}" + (".tgz" if origin.is_file() else ""))
    if origin.is_file():
        shutil.copyfile(origin, target)
    else:
        shutil.copytree(origin, target, dirs_exist_ok=True)
    return target, source.version
