"""The image cache's line in `doctor` (and up's preflight): running or not, size, which registries."""

from __future__ import annotations

from kfbootstrap.cache.registries import mirrors_for
from kfbootstrap.cache.report import collect, human_bytes
from kfbootstrap.config import Config
from kfbootstrap.preflight.findings import OK, WARN, Finding
from kfbootstrap.tools.docker import Containers
from kfbootstrap.tools.runner import Runner


def cache_finding(config: Config, runner: Runner) -> Finding:
    """Never a blocker: without a cache every pull simply goes to the upstream."""
    if not config.cache.enabled:
        return Finding("image cache", OK, "off (cache.enabled: false): every cluster pulls from the upstreams")
    containers = Containers(runner)
    reports = collect(containers, mirrors_for(config.cache.registries), with_contents=False)
    running = [r.registry for r in reports if r.state == "running"]
    size = human_bytes(sum(r.size_bytes for r in reports))
    if len(running) == len(reports):
        return Finding("image cache", OK, f"{len(running)} caches running ({', '.join(running)}), {size}")
    if not running and not containers.image_exists(config.cache.image):
        return Finding(
            "image cache",
            WARN,
            f"not started; its image {config.cache.image} is not on this machine",
            "`up` pulls it; offline, set cache.image to a local Distribution registry image",
        )
    stopped = [r.registry for r in reports if r.state != "running"]
    return Finding(
        "image cache",
        OK,
        f"{len(running)}/{len(reports)} caches running ({size}); "
        f"not running: {', '.join(stopped)} (`up` or `images pull` starts them)",
    )
