"""Install KServe server-side as its own step, from the release's KServe kustomization.

The Makefile applied KServe separately with `--server-side --force-conflicts` because
its CRDs are too large for client-side apply. Our engine always applies server-side
with forced conflicts, so this is the same ManifestsStep on another path (the path
moved between releases: see kfbootstrap/releases.py).

Every supported release's `example` already contains KServe, so with Kubeflow on this
step applies no second copy (a second render is not even identical: in 26.03.1 three
Certificates get another issuer when KServe is rendered alone). With Kubeflow off it
installs KServe on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kfbootstrap.context import RunContext
from kfbootstrap.steps.kubeflow import ManifestsStep

if TYPE_CHECKING:
    from kfbootstrap.manifests import Render


class KServeStep(ManifestsStep):
    name = "kserve"
    component = "kserve"
    what = "KServe"
    title = "Install KServe (server-side)"

    def describe(self, ctx: RunContext) -> str:
        if _in_example(ctx):
            return f"KServe comes with the example of {ctx.config.release.tag}: nothing more to apply"
        return super().describe(ctx)

    def is_done(self, ctx: RunContext) -> bool:
        return False if _in_example(ctx) else super().is_done(ctx)

    def rendered(self, ctx: RunContext) -> "Render | None":
        if _in_example(ctx):
            self._not_separate = f"KServe comes with the example of {ctx.config.release.tag}"
            return None
        return super().rendered(ctx)


def _in_example(ctx: RunContext) -> bool:
    return "kubeflow" in ctx.config.components.enabled() and ctx.config.release.kserve_in_example
