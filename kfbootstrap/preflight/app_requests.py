"""The chosen Kubeflow apps' measured requests against the machine, when they can be rendered without fetching."""

from __future__ import annotations

from typing import Callable

from kfbootstrap.release_parts import catalog_for
from kfbootstrap.apps.fit import NO, TIGHT, fit
from kfbootstrap.apps.plan import budget, nodes_of, selection_for
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.manifests import Renderer
from kfbootstrap.preflight.findings import FAIL, OK, WARN, Finding


def requests_check(ctx: RunContext) -> "Callable[[float | None, int | None, str], Finding] | None":
    """The chosen apps' measured requests as a check, or None (no catalog for the release, or no render yet possible)."""
    config = ctx.config
    if not config.components.on("kubeflow") or catalog_for(config.kubeflow.version) is None:
        return None
    renderer = Renderer(config, ctx.runner)
    if not renderer.is_local():
        return None  # not cloned yet: the profile's fixed minimum stands in (preflight fetches nothing)
    try:  # the Kubeflow step renders the same a moment later, from the render cache
        render = renderer.render("kubeflow")
    except KfbError:
        return None  # the Kubeflow step reports why it cannot render
    nodes = nodes_of(config)
    totals = budget(selection_for(config, render), nodes).total

    def check(memory: float | None, cpus: int | None, source: str) -> Finding:
        verdict = fit(totals, nodes, memory, cpus)
        more = (
            "raise Docker Desktop's Memory (Settings → Resources)"
            if source == "Docker Desktop VM"
            else "give Docker more memory"
        )
        laptop = "" if config.kubeflow.sizing == "laptop" else "`--sizing laptop`, "
        hint = (
            f"{more}, {laptop}choose fewer apps (`--apps pipelines`) or `--profile pipelines`; "
            "`up --dry-run` shows what each asks for"
        )
        status = FAIL if verdict.verdict == NO else WARN if verdict.verdict == TIGHT else OK
        return Finding("requests", status, f"{verdict.describe()} on the {source}", hint if status != OK else "")

    return check
