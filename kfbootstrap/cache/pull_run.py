"""Run `images pull`: start the caches, then pull each image through its cache with one progress bar.

The bar counts images and bytes; the byte total grows as each image's manifest tells
its size. In a pipe or CI there is one plain line per image instead.
"""

from __future__ import annotations

from typing import Iterable

from kfbootstrap import paths, ui
from kfbootstrap.cache.client import RegistryClient, RegistryUnreachable
from kfbootstrap.cache.ensure import cache_mirrors, ensure_caches
from kfbootstrap.cache.registries import GENERATION_LABEL, PROXY_PORT, Mirror
from kfbootstrap.cache.report import human_bytes
from kfbootstrap.cache.warm import PullState, PullTotals, pull_one
from kfbootstrap.config import Config
from kfbootstrap.images import ListedImage, distinct
from kfbootstrap.tools.docker import Containers, Docker
from kfbootstrap.tools.runner import Runner


def pull_images(config: Config, runner: Runner, images: Iterable[ListedImage]) -> PullTotals:
    containers = Containers(runner)
    network = config.cache.network if containers.network_exists(config.cache.network) else None
    with ui.step_line("Start the image caches") as line:
        ensure_caches(config, containers, runner, network)
    ui.step_done("Start the image caches", line.elapsed())
    mirrors = {m.registry: m for m in cache_mirrors(config)}
    wanted = distinct(images)
    uncached = sorted({i.ref.registry for i in wanted if i.ref.registry not in mirrors})
    if uncached:
        ui.warn(f"not cached (not in cache.registries): {', '.join(uncached)}; their images are left out")
    todo = [i for i in wanted if i.ref.registry in mirrors]
    state = PullState(paths.cache_dir() / "images-pulled.json")
    return _pull_all(todo, mirrors, containers, state, Docker(runner).info().architecture)


def _pull_all(
    todo: list[ListedImage], mirrors: dict[str, Mirror], containers: Containers, state: PullState, architecture: str
) -> PullTotals:
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn

    totals = PullTotals()
    clients = {r: _client(containers, m) for r, m in mirrors.items()}
    generations = {r: containers.volume_label(m.volume, GENERATION_LABEL) or "" for r, m in mirrors.items()}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        console=ui.err,
        disable=not ui.interactive(),
    )
    with progress:
        images_task = progress.add_task("images", total=len(todo))
        bytes_task = progress.add_task("bytes", total=0)
        for item in todo:
            image, registry = str(item.ref), item.ref.registry
            if state.done(image, generations[registry]):
                totals.skipped += 1
                progress.advance(images_task)
                continue
            try:
                read = pull_one(
                    clients[registry],
                    item.ref,
                    architecture,
                    on_size=lambda size: progress.update(bytes_task, total=(progress.tasks[1].total or 0) + size),
                    on_bytes=lambda count: progress.advance(bytes_task, count),
                )
            except (RegistryUnreachable, LookupError, KeyError, ValueError) as exc:
                totals.failed[image] = str(exc)
                ui.warn(f"{image}: {exc}")
            else:
                totals.images += 1
                totals.bytes += read
                state.mark(image, generations[registry])
                if not ui.interactive():
                    ui.info(f"  pulled {image} ({human_bytes(read)})")
            progress.advance(images_task)
    ui.step_done(
        f"Pull {len(todo)} images through the cache",
        0.0,
        f"{totals.images} pulled ({human_bytes(totals.bytes)}), {totals.skipped} already cached"
        + (f", {len(totals.failed)} failed" if totals.failed else ""),
    )
    return totals


def _client(containers: Containers, mirror: Mirror) -> RegistryClient:
    port = containers.host_port(mirror.container, PROXY_PORT)
    return RegistryClient(f"http://127.0.0.1:{port}", timeout=300)
