"""On arm64 (Apple Silicon, arm Linux): which of the chosen components' images exist only for amd64.

Kind nodes run the Docker engine's architecture, and a pod whose image has no build for
it fails with "exec format error" (or cannot be pulled). Nothing is looked up on amd64,
which every Kubeflow image is built for. Elsewhere the images are those `up` would run
(the same renders and chart templates as `images list`) and their platforms come from
the registries' image indexes; what cannot be rendered or looked up is said as such.
"""

from __future__ import annotations

from typing import Callable

from kfbootstrap import image_platforms
from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError
from kfbootstrap.host import HostProbe
from kfbootstrap.image_sources import objects_by_component
from kfbootstrap.images import distinct, list_images
from kfbootstrap.preflight.findings import OK, WARN, Finding
from kfbootstrap.tools.docker import DockerInfo
from kfbootstrap.tools.runner import Runner

CHECK = "architecture"
SHOWN = 6  # images named in the detail; `images list` has them all


def check_architecture(
    config: Config, runner: Runner, host: HostProbe, docker: DockerInfo | None, lookup: Callable | None = None
) -> Finding:
    architecture = docker.architecture if docker is not None else host.machine()
    where = "the Docker engine" if docker is not None else "this host"
    if architecture == "amd64":
        return Finding(CHECK, OK, f"amd64 nodes ({where}): what every image of the release is built for")
    try:
        images = _images(config, runner)
    except (KfbError, OSError) as exc:  # no render (offline, no kustomize): say we cannot tell, do not stop
        return Finding(
            CHECK,
            WARN,
            f"{architecture} nodes; cannot tell which images lack {architecture} builds: "
            f"rendering the components failed ({_one_line(exc)})",
            "run `kfbootstrap images list` when it can render, then `kfbootstrap doctor` again",
        )
    found = (lookup or image_platforms.lookup)(images, config.cache.registries)
    return _verdict(architecture, where, images, found)


def _verdict(architecture: str, where: str, images: dict, found) -> Finding:
    lacking = found.lacking(architecture)
    amd64_only = [image for image in lacking if found.found[image] == {"linux/amd64"}]
    parts = []
    if lacking:
        parts.append(
            f"{len(lacking)} of {len(images)} images have no linux/{architecture} build"
            + (f" ({len(amd64_only)} published for amd64 only)" if amd64_only else "")
            + f": {_names(lacking)}"
        )
    if found.unknown:
        reason = next(iter(sorted(set(found.unknown.values()))))
        parts.append(
            f"cannot tell for {len(found.unknown)} of {len(images)} images ({reason}): {_names(sorted(found.unknown))}"
        )
    if not parts:
        return Finding(
            CHECK, OK, f"{architecture} nodes ({where}): all {len(images)} images have a linux/{architecture} build"
        )
    fix = (
        (
            "their pods fail with 'exec format error': switch off the components that run them, use an amd64 "
            "machine, or enable amd64 emulation (Docker Desktop: Settings → General → Use Rosetta)"
        )
        if lacking
        else "check the registries are reachable (`kfbootstrap images list` names every image), then re-run doctor"
    )
    return Finding(CHECK, WARN, f"{architecture} nodes ({where}); " + "; ".join(parts), fix)


def _images(config: Config, runner: Runner) -> dict:
    return {item.image: item.ref for item in distinct(list_images(objects_by_component(config, runner)))}


def _names(images: list[str]) -> str:
    shown = ", ".join(images[:SHOWN])
    return shown + (f" and {len(images) - SHOWN} more" if len(images) > SHOWN else "")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "message", exc)).split())[:200]
