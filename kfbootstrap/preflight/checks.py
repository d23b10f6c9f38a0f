"""Every preflight finding for a config on this machine, shared by `kfbootstrap doctor` (all of them,
as a table) and `up`'s preflight step (blockers stop it).

Each check returns a Finding (preflight/findings.py). Only `doctor --fix` changes anything (the inotify sysctls).
"""

from __future__ import annotations

from typing import Callable

from kfbootstrap.components import chart_pins
from kfbootstrap.config import Config
from kfbootstrap.host import HostProbe
from kfbootstrap.preflight.arch import check_architecture
from kfbootstrap.preflight.cache import cache_finding
from kfbootstrap.preflight.disk import check_disk
from kfbootstrap.preflight.findings import Finding
from kfbootstrap.preflight.machine import check_cgroup, check_inotify, check_ports, check_resources
from kfbootstrap.preflight.tools import (
    check_docker,
    check_helm,
    check_kind,
    check_kubectl,
    check_kustomize,
    needs_kustomize,
)
from kfbootstrap.tools.docker import Docker, DockerInfo
from kfbootstrap.tools.runner import Runner


def collect_findings(
    config: Config,
    runner: Runner,
    host: HostProbe,
    fix: bool = False,
    requests: "Callable[[float | None, int | None, str], Finding] | None" = None,
) -> list[Finding]:
    """Every finding for this config on this machine, in the order a user would fix them.

    `requests`, when given, judges the chosen apps' measured requests against the
    machine's memory and CPUs (kfbootstrap/apps/fit.py) instead of the profile's fixed minimum.
    """
    creating = not config.cluster.existing
    findings: list[Finding] = []
    docker_info: DockerInfo | None = None
    if creating:
        docker_finding, docker_info = check_docker(runner)
        findings += [docker_finding, check_kind(runner, config)]
    findings.append(check_kubectl(runner))
    if needs_kustomize(config):
        findings.append(check_kustomize(runner))
    if any(config.components.on(name) for name in chart_pins()):
        findings.append(check_helm(runner, config.charts.helm))
    if creating:
        findings += check_resources(config, host, docker_info, requests)
        findings.append(check_disk(config, host, docker_info))
        findings.append(check_architecture(config, runner, host, docker_info))
        if docker_info is not None:
            findings.append(check_cgroup(config, Docker(runner).cgroup_version()))
        findings += check_inotify(runner, host, fix)
        if docker_info is not None:
            findings.append(cache_finding(config, runner))
    findings += check_ports(config, host)
    return findings
