"""The programs `up` runs, each at a version that works: docker, kind, kubectl, kustomize, helm."""

from __future__ import annotations

import json
from typing import Callable

from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError, ToolMissing
from kfbootstrap.preflight.findings import FAIL, OK, WARN, Finding
from kfbootstrap.tools.docker import Docker, DockerInfo
from kfbootstrap.tools.helm import HELM_HINT
from kfbootstrap.tools.helm import unsupported as helm_unsupported
from kfbootstrap.tools.runner import Runner
from kfbootstrap.tools.versions import format_version, parse_version, version_argv

MIN_KIND = (0, 27, 0)  # the first to read containerd 2.x hosts.toml; below it our node config does not apply
MIN_KUBECTL = (1, 30, 0)
MIN_KUSTOMIZE = (5, 0, 0)


def needs_kustomize(config: Config) -> bool:
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


def check_docker(runner: Runner) -> tuple[Finding, DockerInfo | None]:
    try:
        info = Docker(runner).info()
    except ToolMissing as exc:
        return Finding("docker", FAIL, "docker CLI not found", exc.hint or ""), None
    except KfbError as exc:
        return Finding("docker", FAIL, exc.message, exc.hint or ""), None
    return Finding("docker", OK, f"daemon {info.server_version} ({info.cpus} CPUs, {info.memory_gib:.1f} GiB)"), info


def check_kind(runner: Runner, config: Config) -> Finding:
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


def check_kubectl(runner: Runner) -> Finding:
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


def check_kustomize(runner: Runner) -> Finding:
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


def check_helm(runner: Runner, executable: str = "helm") -> Finding:
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
