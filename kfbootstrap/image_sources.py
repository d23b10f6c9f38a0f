"""The objects each enabled component would run: its kustomize render or its chart's template.

Feeds `images list` and `images pull`: the same renders `up` applies (manifests.py,
cached) and the same charts and values the add-on steps install (charts.py), so the
list is exactly what a cluster of this config pulls. Model registry and object store
are part of the `example` render from 26.03.1 on, so they add nothing here.
"""

from __future__ import annotations

from typing import Any, Callable

from kfbootstrap.charts import CHART_PINS, chart_source, chart_values
from kfbootstrap.config import Config
from kfbootstrap.manifests import NotSeparate, render_named, renders_for
from kfbootstrap.tools.runner import Runner


def objects_by_component(
    config: Config, runner: Runner, note: Callable[[str], None] = lambda _: None
) -> dict[str, list[dict[str, Any]]]:
    enabled = config.components.enabled()
    found: dict[str, list[dict[str, Any]]] = {}
    for name in renders_for(config):
        component = "model_registry" if name.startswith("model-registry-") else name
        try:
            found.setdefault(component, []).extend(_chosen(config, name, render_named(config, runner, name)))
        except NotSeparate as why:
            note(f"{name}: {why}")
    for name in CHART_PINS:
        if name in enabled:
            found[name] = _chart_objects(config, runner, name)
    return found


def _chosen(config: Config, component: str, render: Any) -> list[dict[str, Any]]:
    """Kubeflow's chosen apps only (kubeflow.apps): their images are all a cluster of this config pulls."""
    if component != "kubeflow":
        return render.objects()
    from kfbootstrap.apps.plan import selection_for

    return selection_for(config, render).objects


def _chart_objects(config: Config, runner: Runner, name: str) -> list[dict[str, Any]]:
    from kfbootstrap.tools.helm import Helm

    pin = CHART_PINS[name]
    helm = Helm(runner, config.charts.helm)
    return helm.template(pin.release, pin.namespace, chart_source(pin, config.charts), chart_values(pin, config.charts))
