"""`up --dry-run`'s second half: the chosen apps, what they ask for, and which profile fits this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kfbootstrap import ui
from kfbootstrap.release_parts import catalog_for
from kfbootstrap.apps.fit import FITS, fit
from kfbootstrap.apps.plan import GIB, budget, nodes_of, selection_for
from kfbootstrap.apps.report import part_lines
from kfbootstrap.apps.sizing import LAPTOP
from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from typing import Callable

    from kfbootstrap.host import HostProbe
    from kfbootstrap.tools.runner import Runner


def machine(host: "HostProbe") -> tuple[float | None, int | None, str]:
    """(memory GiB, CPUs, where from) of this machine. A dry run asks Docker nothing, so Docker's own
    size (Docker Desktop's VM) is compared by preflight, which asks `docker info`."""
    return host.memory_gib(), host.cpus(), "this machine (preflight compares with Docker's own size)"


def print_choice(config: Config, new_runner: "Callable[[], Runner]", host: "HostProbe") -> None:
    """Render (from the cache when unchanged), select, measure, and compare with the machine.

    Only a local source is rendered (a checkout, a file, or a release cloned before):
    a dry run fetches nothing, and builds no runner until it has something to run.
    """
    if not config.components.on("kubeflow"):
        return
    from kfbootstrap.manifests import Renderer

    renderer = Renderer(config, None)  # type: ignore[arg-type]
    if not renderer.is_local():
        ui.out.print(
            f"\nKubeflow's requests: not measured, {renderer.source.describe()} is not cloned yet (a dry run "
            "fetches nothing; `kfbootstrap render` clones and renders it)",
            markup=False,
        )
        return
    if renderer.source.kind in ("release", "checkout"):
        renderer.runner = new_runner()  # kustomize; a pre-rendered file needs no command
    try:
        render = renderer.render("kubeflow")
    except KfbError as exc:
        ui.out.print(f"Kubeflow's requests: not measured ({exc.message})", markup=False)
        return
    selection = selection_for(config, render)
    nodes = nodes_of(config)
    measured = budget(selection, nodes)
    total = measured.total
    chosen = ", ".join(selection.apps) if config.kubeflow.apps is not None else "everything in the render"
    ui.out.print(f"\nKubeflow applications: {chosen}; sizing: {config.kubeflow.sizing}", markup=False)
    for line in part_lines(selection, nodes):
        ui.out.print(f"  {line}", markup=False)
    ui.out.print(
        f"  total: {total.objects} objects, {len(total.images)} images, {total.pods} pods, "
        f"{total.total_cpu:.2f} CPU and {total.total_memory / GIB:.2f} GiB requested "
        f"(Istio sidecars: {total.sidecars}, {total.sidecar_cpu:.2f} CPU, {total.sidecar_memory / GIB:.2f} GiB); "
        f"add-ons installed with Helm are not counted",
        markup=False,
    )
    for note in selection.resized:
        ui.out.print(f"  sized for a laptop: {note}", markup=False)
    for note in selection.repaired:
        ui.out.print(f"  repaired: {note}", markup=False)
    for note in selection.dangling:
        ui.out.print(f"  note: {note}", markup=False)
    _print_fit(host, config, render, total, nodes)


def _print_fit(host: "HostProbe", config: Config, render, total, nodes: int) -> None:
    memory, cpus, where = machine(host)
    verdict = fit(total, nodes, memory, cpus)
    ui.out.print(f"\nOn {where}: {verdict.describe()}", markup=False)
    if verdict.verdict != FITS and config.kubeflow.sizing != LAPTOP:  # the same choice, sized for a laptop
        laptop = config.model_copy(update={"kubeflow": config.kubeflow.model_copy(update={"sizing": LAPTOP})})
        smaller = fit(budget(selection_for(laptop, render), nodes).total, nodes, memory, cpus)
        ui.out.print(f"  this choice with --sizing {LAPTOP}: {smaller.describe()}", markup=False)
    catalog = catalog_for(config.kubeflow.version)
    if catalog is None or verdict.verdict == FITS:
        return
    from kfbootstrap.config import PROFILE_PRESETS, profile_config

    for profile in PROFILE_PRESETS:
        other = profile_config(profile, config.kubeflow.version)
        try:
            choice = selection_for(other, render)
        except KfbError as exc:  # a render without origin annotations cannot be chosen from
            ui.out.print(f"  profile {profile}: not measured ({exc.message})", markup=False)
            continue
        other_fit = fit(budget(choice, nodes_of(other)).total, nodes_of(other), memory, cpus)
        ui.out.print(f"  profile {profile} ({other.kubeflow.sizing} sizing): {other_fit.describe()}", markup=False)
