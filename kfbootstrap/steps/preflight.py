"""Preflight checks, shared by `kfbootstrap doctor` (all findings, as a table) and `up` (blockers stop it).

Each check returns a Finding: what was checked, ok/warn/fail, what was seen and how to
fix it. Only `doctor --fix` changes anything (the inotify sysctls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from kfbootstrap.config import CLUSTER_ONLY_NEEDS, PROFILE_NEEDS, Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError, ToolMissing
from kfbootstrap.host import HostProbe
from kfbootstrap.kubeadm_patches import refuses_cgroup_v1
from kfbootstrap.steps.base import Step
from kfbootstrap.steps.cluster import CGROUP_V2_HOWTO, USERS_PATCH_HOWTO, kubelet_of, users_kind_config_allows_cgroup_v1
from kfbootstrap.steps.preflight_arch import check_architecture
from kfbootstrap.steps.preflight_disk import check_disk
from kfbootstrap.components import chart_pins, targets
from kfbootstrap.tools.docker import Docker, DockerInfo
from kfbootstrap.tools.helm import HELM_HINT
from kfbootstrap.tools.helm import unsupported as helm_unsupported
from kfbootstrap.tools.runner import Runner
from kfbootstrap.tools import sysctl
from kfbootstrap.tools.versions import format_version, parse_version, version_argv

OK, WARN, FAIL = "ok", "warn", "fail"

# Kubeflow's controllers and Kind's nodes each hold many inotify watches; the
# values are the ones kubeflow/manifests documents for Kind.
INOTIFY = {"fs.inotify.max_user_instances": 2280, "fs.inotify.max_user_watches": 1255360}
INOTIFY_FIX = "sudo sysctl -w " + " ".join(f"{k}={v}" for k, v in INOTIFY.items())

MIN_KIND = (0, 27, 0)  # the first to read containerd 2.x hosts.toml; below it our node config does not apply
MIN_KUBECTL = (1, 30, 0)
MIN_KUSTOMIZE = (5, 0, 0)

# Which forwarded port belongs to which component.
FORWARD_COMPONENTS = {target.port_key: target.component for target in targets().values()}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""

    @property
    def blocker(self) -> bool:
        return self.status == FAIL


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
        docker_finding, docker_info = _check_docker(runner)
        findings += [docker_finding, _check_kind(runner, config)]
    findings.append(_check_kubectl(runner))
    if _needs_kustomize(config):
        findings.append(_check_kustomize(runner))
    if any(config.components.on(name) for name in chart_pins()):
        findings.append(_check_helm(runner, config.charts.helm))
    if creating:
        findings += _check_resources(config, host, docker_info, requests)
        findings.append(check_disk(config, host, docker_info))
        findings.append(check_architecture(config, runner, host, docker_info))
        if docker_info is not None:
            findings.append(check_cgroup(config, Docker(runner).cgroup_version()))
        findings += _check_inotify(runner, host, fix)
        if docker_info is not None:
            from kfbootstrap.cache.findings import cache_finding

            findings.append(cache_finding(config, runner))
    findings += _check_ports(config, host)
    return findings


def _needs_kustomize(config: Config) -> bool:
    """A pre-rendered YAML file needs no kustomize; a manifests checkout (ours or the user's) does."""
    path = config.kubeflow.path
    return config.components.on("kubeflow") and (path is None or path.is_dir())


def _tool_output(runner: Runner, argv: list[str]) -> tuple[str | None, str]:
    """(output, '') when the tool answered; (None, problem) when it is missing or failed."""
    try:
        result = runner.run(argv, check=False, timeout=30)
    except ToolMissing:
        return None, "not found on PATH"
    except KfbError as exc:
        return None, exc.message
    if not result.ok:
        text = (result.stderr or result.stdout).strip()
        return None, f"`{' '.join(argv)}` failed: {text.splitlines()[-1] if text else f'exit {result.exit_code}'}"
    return result.stdout + result.stderr, ""


def _versioned_check(
    name: str,
    runner: Runner,
    argv: list[str],
    minimum: tuple[int, int, int],
    install_hint: str,
    parse: Callable[[str], tuple[int, int, int] | None] = parse_version,
    recommended: tuple[int, int, int] | None = None,
) -> Finding:
    output, problem = _tool_output(runner, argv)
    if output is None:
        return Finding(name, FAIL, problem, install_hint)
    version = parse(output)
    if version is None:
        return Finding(name, WARN, f"could not read its version from {output.strip()[:60]!r}", install_hint)
    if version < minimum:
        return Finding(
            name,
            FAIL,
            f"{format_version(version)} is older than {format_version(minimum)}",
            f"upgrade {name}: {install_hint}",
        )
    if recommended and version < recommended:
        return Finding(
            name,
            WARN,
            f"{format_version(version)} works; {format_version(recommended)} is what we test",
            f"upgrade {name} when you can",
        )
    return Finding(name, OK, format_version(version))


def _check_docker(runner: Runner) -> tuple[Finding, DockerInfo | None]:
    try:
        info = Docker(runner).info()
    except ToolMissing as exc:
        return Finding("docker", FAIL, "docker CLI not found", exc.hint or ""), None
    except KfbError as exc:
        return Finding("docker", FAIL, exc.message, exc.hint or ""), None
    return Finding("docker", OK, f"daemon {info.server_version} ({info.cpus} CPUs, {info.memory_gib:.1f} GiB)"), info


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


def _check_kind(runner: Runner, config: Config) -> Finding:
    """kind below MIN_KIND fails; older than the chosen release's CI used (releases.py) warns."""
    release = config.release
    finding = _versioned_check(
        "kind",
        runner,
        version_argv("kind"),
        MIN_KIND,
        f"install kind {format_version(MIN_KIND)}+ ({release.tested.kind} tested with "
        f"{release.tag}): https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    )
    version, tested = parse_version(finding.detail), parse_version(release.tested.kind)
    if finding.status == OK and version and tested and version < tested:
        return Finding(
            "kind",
            WARN,
            f"{finding.detail} works; release {release.tag} was tested with kind {release.tested.kind}",
            f"upgrade kind to {release.tested.kind} when you can",
        )
    return finding


def _kubectl_client(output: str) -> dict:
    try:
        return json.loads(output[output.index("{") :])
    except ValueError:
        return {}


def _check_kubectl(runner: Runner) -> Finding:
    def parse(output: str):
        return parse_version(_kubectl_client(output).get("clientVersion", {}).get("gitVersion", "")) or parse_version(
            output
        )

    return _versioned_check(
        "kubectl",
        runner,
        version_argv("kubectl"),
        MIN_KUBECTL,
        "install kubectl: https://kubernetes.io/docs/tasks/tools/",
        parse=parse,
    )


def _check_kustomize(runner: Runner) -> Finding:
    """kubectl's built-in kustomize is enough; a standalone kustomize is the fallback."""
    output, _ = _tool_output(runner, version_argv("kubectl"))
    built_in = parse_version(_kubectl_client(output or "").get("kustomizeVersion", ""))
    if built_in and built_in >= MIN_KUSTOMIZE:
        return Finding("kustomize", OK, f"{format_version(built_in)} (built into kubectl)")
    standalone = _versioned_check(
        "kustomize",
        runner,
        version_argv("kustomize"),
        MIN_KUSTOMIZE,
        "install kustomize v5+ or a kubectl whose built-in kustomize is v5+",
    )
    return standalone


def _check_helm(runner: Runner, executable: str = "helm") -> Finding:
    """The helm the add-on steps will run (charts.helm: a name on PATH or a path): helm 3 (v3.12+) or 4.

    Judged on whatever `helm version --short` printed, failed or not: helm 2 prints its
    client version before failing on Tiller, and is then named as helm 2.
    """
    argv = version_argv("helm", executable)
    try:
        result = runner.run(argv, check=False, timeout=30)
    except ToolMissing:
        return Finding("helm", FAIL, "not found on PATH", HELM_HINT)
    except KfbError as exc:
        return Finding("helm", FAIL, exc.message, HELM_HINT)
    text = (result.stdout + " " + result.stderr).strip()
    if not result.ok and parse_version(text) is None:
        last = text.splitlines()[-1] if text else f"exit {result.exit_code}"
        return Finding("helm", FAIL, f"`{' '.join(argv)}` failed: {last}", HELM_HINT)
    problem = helm_unsupported(text)
    if problem:
        return Finding("helm", FAIL, problem, f"upgrade helm: {HELM_HINT}" if "older than" in problem else HELM_HINT)
    version = parse_version(text)
    assert version is not None  # helm_unsupported judged it readable
    return Finding("helm", OK, format_version(version))


def _check_resources(
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


def _check_inotify(runner: Runner, host: HostProbe, fix: bool) -> list[Finding]:
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


def _check_ports(config: Config, host: HostProbe) -> list[Finding]:
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


def _requests_check(ctx: RunContext) -> "Callable[[float | None, int | None, str], Finding] | None":
    """The chosen apps' measured requests as a check, or None (no catalog for the release, or no render yet possible)."""
    from kfbootstrap.apps.catalog import catalog_for

    config = ctx.config
    if not config.components.on("kubeflow") or catalog_for(config.kubeflow.version) is None:
        return None
    from kfbootstrap.apps.fit import NO, TIGHT, fit
    from kfbootstrap.apps.plan import budget, nodes_of, selection_for
    from kfbootstrap.manifests import Renderer

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


class PreflightStep(Step):
    """Stop `up` before any side effect when a blocker is found."""

    name = "preflight"
    title = "Preflight checks"

    def describe(self) -> str:
        return "Preflight checks (docker, kind, kubectl, helm, memory, inotify, ports)"

    def run(self, ctx: RunContext) -> str | None:
        findings = collect_findings(ctx.config, ctx.runner, ctx.host, requests=_requests_check(ctx))
        blockers = [f for f in findings if f.blocker]
        if blockers:
            first = blockers[0]
            more = f" (and {len(blockers) - 1} more; see `kfbootstrap doctor`)" if len(blockers) > 1 else ""
            raise KfbError(f"{first.check}: {first.detail}{more}", hint=first.fix or "run `kfbootstrap doctor`")
        warnings = [f for f in findings if f.status == WARN]
        return (
            f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}, see `kfbootstrap doctor`"
            if warnings
            else None
        )
