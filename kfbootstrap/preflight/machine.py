"""What the machine offers the cluster: memory and CPUs, cgroup version, inotify limits, free forward ports."""

from __future__ import annotations

from typing import Callable

from kfbootstrap.components import targets
from kfbootstrap.config import CLUSTER_ONLY_NEEDS, PROFILE_NEEDS, Config
from kfbootstrap.host import HostProbe
from kfbootstrap.kubeadm_patches import refuses_cgroup_v1
from kfbootstrap.preflight.findings import FAIL, OK, WARN, Finding
from kfbootstrap.steps.cluster import CGROUP_V2_HOWTO, USERS_PATCH_HOWTO, kubelet_of, users_kind_config_allows_cgroup_v1
from kfbootstrap.tools import sysctl
from kfbootstrap.tools.docker import DockerInfo
from kfbootstrap.tools.runner import Runner

# Kubeflow's controllers and Kind's nodes each hold many inotify watches; the
# values are the ones kubeflow/manifests documents for Kind.
INOTIFY = {"fs.inotify.max_user_instances": 2280, "fs.inotify.max_user_watches": 1255360}
INOTIFY_FIX = "sudo sysctl -w " + " ".join(f"{k}={v}" for k, v in INOTIFY.items())

# Which forwarded port belongs to which component.
FORWARD_COMPONENTS = {target.port_key: target.component for target in targets().values()}


def check_cgroup(config: Config, cgroup_version: str | None) -> Finding:
    """Docker's cgroup version against the chosen node image's kubelet, which from 1.35 refuses v1
    unless told `failCgroupV1: false` (`up` adds that to the kind config it generates; a user's own
    kind config must say it itself). Never a blocker."""
    if cgroup_version is None:
        return Finding(
            "cgroup",
            WARN,
            "cannot tell: `docker info` did not say which cgroup version Docker runs",
            "check `docker info --format '{{.CgroupVersion}}'`",
        )
    if cgroup_version == "2":
        return Finding("cgroup", OK, "v2")
    image = config.cluster.node_image
    kubelet = kubelet_of(image)
    if not refuses_cgroup_v1(image):
        return Finding("cgroup", OK, f"v1 (deprecated; the kubelet of {kubelet} still runs on it)")
    if config.cluster.kind_config is not None and not users_kind_config_allows_cgroup_v1(config):
        return Finding(
            "cgroup",
            WARN,
            f"v1: the kubelet of {kubelet} will refuse to start on it, and cluster.kind_config "
            "does not set failCgroupV1: false",
            f"{USERS_PATCH_HOWTO}; better: {CGROUP_V2_HOWTO}",
        )
    return Finding(
        "cgroup",
        WARN,
        f"v1: the kubelet of {kubelet} refuses it by default; `up` adds failCgroupV1: false to its configuration",
        CGROUP_V2_HOWTO,
    )


def check_resources(
    config: Config,
    host: HostProbe,
    docker: DockerInfo | None,
    requests: "Callable[[float | None, int | None, str], Finding] | None" = None,
) -> list[Finding]:
    """Compare what Docker (or else the host) offers with what the profile needs (a bare cluster less),
    or with what the chosen apps request when `requests` can measure them."""
    bare = not config.components.enabled()
    needs = CLUSTER_ONLY_NEEDS if bare else PROFILE_NEEDS[config.profile]
    wanted_by = "a cluster without components" if bare else f"profile {config.profile}"
    # Docker Desktop's engine is a VM: what it reports is the VM's share, set in its settings, not the host's.
    source = ("Docker Desktop VM" if docker.is_desktop else "Docker engine") if docker and docker.memory_gib else "host"
    memory = docker.memory_gib if docker and docker.memory_gib else host.memory_gib()
    cpus = docker.cpus if docker and docker.cpus else host.cpus()
    cpu_finding = _resource_finding("cpus", cpus, needs.min_cpus, needs.recommended_cpus, "CPUs", source, wanted_by)
    if requests is not None:
        return [requests(memory, cpus, source), cpu_finding]
    return [
        _resource_finding(
            "memory", memory, needs.min_memory_gib, needs.recommended_memory_gib, "GiB", source, wanted_by
        ),
        cpu_finding,
    ]


def _resource_finding(
    name: str, have: float | None, minimum: float, recommended: float, unit: str, source: str, wanted_by: str
) -> Finding:
    if have is None:
        return Finding(name, WARN, f"could not read {name} of the {source}", "")
    seen = f"{have:.1f} {unit}" if unit == "GiB" else f"{int(have)} {unit}"
    if have < minimum:
        more = (
            f"raise Docker Desktop's {'Memory' if name == 'memory' else 'CPU limit'} to at least {minimum:g} "
            "(Settings → Resources → Advanced)"
            if source == "Docker Desktop VM"
            else f"give Docker more {name}"
        )
        return Finding(
            name,
            FAIL,
            f"{seen} on the {source}; {wanted_by} needs at least {minimum:g}",
            f"{more}, or use `--profile minimal`",
        )
    if have < recommended:
        return Finding(
            name,
            WARN,
            f"{seen} on the {source}; {recommended:g} recommended for {wanted_by}",
            "expect slow start-up, or use `--profile minimal`",
        )
    return Finding(name, OK, f"{seen} on the {source}")


def check_inotify(runner: Runner, host: HostProbe, fix: bool) -> list[Finding]:
    if host.system() != "Linux":
        return []  # Docker Desktop's VM has its own limits, out of our reach
    low = {
        name: value for name, value in ((n, host.sysctl(n)) for n in INOTIFY) if value is None or value < INOTIFY[name]
    }
    if low and fix:
        sysctl.write(runner, INOTIFY, as_root=host.is_root())
        low = {name: host.sysctl(name) for name in low if (host.sysctl(name) or 0) < INOTIFY[name]}
    findings = []
    for name, wanted in INOTIFY.items():
        value = host.sysctl(name) if name not in low else low[name]
        if name in low:
            findings.append(
                Finding(name, FAIL, f"{value} < {wanted}", f"{INOTIFY_FIX}  (or `kfbootstrap doctor --fix`)")
            )
        else:
            findings.append(Finding(name, OK, str(value)))
    return findings


def check_ports(config: Config, host: HostProbe) -> list[Finding]:
    """Ports our forwards will want. A busy one is a warning: the cluster does not need it."""
    enabled = set(config.components.enabled())
    findings = []
    for forward, port in config.forwards.ports.model_dump().items():
        if FORWARD_COMPONENTS[forward] not in enabled:
            continue
        check = f"port {port} ({forward})"
        try:
            free = host.port_free(config.forwards.address, port)
        except PermissionError:
            findings.append(
                Finding(
                    check,
                    WARN,
                    "below 1024: binding it needs root",
                    f"set forwards.ports.{forward} to a port above 1023",
                )
            )
            continue
        if free:
            findings.append(Finding(check, OK, f"free on {config.forwards.address}"))
        else:
            holder = host.port_holder(port) or "another process"
            findings.append(
                Finding(check, WARN, f"in use by {holder}", f"stop it, or set forwards.ports.{forward} to a free port")
            )
    return findings
