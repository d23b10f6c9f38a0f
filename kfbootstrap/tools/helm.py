"""Helm releases through pyhelm3's async API, with every helm call going through our Runner.

pyhelm3 gives us the release model (status, revision, chart metadata, values) and
the install/upgrade/rollback/uninstall verbs. Its Command normally spawns helm
itself; `RunnerCommand` routes those calls through kfbootstrap's Runner instead,
so helm is found, logged and reported like every other tool, and unit tests can
record its argv. Values always travel on stdin, never in argv or the log.

`Helm.ensure` is the ctlptl-style "read what exists, compare, then act": a release
left in pending-install / pending-upgrade by an interrupted run (helm/helm#8987)
is uninstalled or rolled back first, and the chart is installed or upgraded only
when its version or our values differ from the deployed revision.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from kfbootstrap.errors import KfbError, ToolMissing
from kfbootstrap.tools.runner import Runner
from kfbootstrap.tools.versions import format_version, parse_version, version_argv

log = logging.getLogger("kfbootstrap.helm")


@dataclass(frozen=True)
class ChartSource:
    """What `helm upgrade --install` is given: a repository chart name, or a local path."""

    ref: str  # chart name (with repo) or local path
    repo: str | None
    version: str
    origin: str  # for messages: "https://… (repository)" or the local path

    @property
    def local(self) -> bool:
        return self.repo is None


# Statuses an interrupted helm leaves behind, and what unblocks each.
STUCK_UNINSTALL = ("pending-install", "uninstalling")
STUCK_ROLLBACK = ("pending-upgrade", "pending-rollback")


# The helm majors pyhelm3's public API drives and our Helm tests run (tests/integration/test_addons.py):
# helm 2 needs Tiller and has another CLI; a later major is untested.
SUPPORTED_MAJORS = (3, 4)
MIN_HELM = (3, 12, 0)
HELM_HINT = "install helm v3.12+ or v4: https://helm.sh/docs/intro/install/ (or set charts.helm to its path)"

# Deadlines of helm commands. helm has no request timeout of its own, so against an API server that
# accepts and never answers it waits forever: a read of the cluster (a few requests) gets twice
# timeouts.api and a moment to start; fetching a chart is a download; a change may also wait for
# helm's own --timeout.
CLUSTER_READS = ("list", "status", "history", "get")
DOWNLOADS = ("show", "pull", "template", "repo", "search", "dependency")
DOWNLOAD_SECONDS = 600.0
START_SECONDS = 15.0


class HelmFailed(KfbError):
    """A helm command failed; the message carries helm's own last line."""


def unsupported(version_text: str) -> str | None:
    """Why the helm that printed `version_text` cannot be used (too old, helm 2, unknown), or None."""
    version = parse_version(version_text)
    if version is None:
        return f"could not read a helm version from {version_text.strip()[:60]!r}"
    if version[0] == 2:
        return f"helm {format_version(version)} is helm 2 (Tiller), which kfbootstrap does not drive"
    if version[0] not in SUPPORTED_MAJORS:
        return f"helm {format_version(version)} is a major version kfbootstrap does not know (helm 3 and 4 are tested)"
    if version < MIN_HELM:
        return f"{format_version(version)} is older than {format_version(MIN_HELM)}"
    return None


@dataclass(frozen=True)
class ReleaseState:
    """The current revision of a release, as `helm status` and `helm get values` report it."""

    revision: int
    status: str
    chart: str
    chart_version: str
    values: dict[str, Any]


@dataclass(frozen=True)
class ReleaseResult:
    action: str  # "installed", "upgraded" or "unchanged"
    revision: int
    recovered: str | None = None  # what was done to a stuck release first, if anything

    def describe(self, release: str) -> str:
        text = f"{release} {self.action} (revision {self.revision})"
        return f"{text} after recovering it from an interrupted run" if self.recovered else text


def _make_client(runner: Runner, deadline: Callable[[Sequence[Any]], float], **command_options: Any):
    """A pyhelm3 Client whose helm calls go through `runner`, each killed after `deadline(command)` seconds.

    The classes are built here, not at import time: pyhelm3 loads only when helm is used.
    """
    from pyhelm3 import Client
    from pyhelm3 import errors as helm_errors
    from pyhelm3.command import Command

    class RunnerCommand(Command):
        """pyhelm3's Command, run through our Runner. It keeps its own copy of the options it was
        built with (pyhelm3 keeps them private), so nothing of pyhelm3's internals is read."""

        def __init__(self, runner: Runner, deadline: Callable[[Sequence[Any]], float], **kwargs: Any):
            super().__init__(**kwargs)
            self.runner = runner
            self.deadline = deadline
            self.executable = str(kwargs.get("executable") or "helm")
            self.kubeconfig = kwargs.get("kubeconfig")
            self.kubecontext = kwargs.get("kubecontext")

        def _argv(self, command: Sequence[Any]) -> list[str]:
            argv = [self.executable, *(str(part) for part in command)]
            if self.kubeconfig:
                argv += ["--kubeconfig", str(self.kubeconfig)]
            if self.kubecontext:
                argv += ["--kube-context", self.kubecontext]
            return argv

        async def run(self, command: list[Any], input: bytes | None = None) -> bytes:
            argv = self._argv(command)
            text_in = input.decode("utf-8") if input is not None else None
            result = await asyncio.to_thread(
                self.runner.run, argv, check=False, input=text_in, timeout=self.deadline(command)
            )
            if result.ok:
                return result.stdout.encode("utf-8")
            error_class = _error_class(helm_errors, result.stderr)
            raise error_class(result.exit_code, result.stdout.encode(), result.stderr.encode())

        def client_version(self):
            """The version pyhelm3 branches on (helm 3 or 4); any other helm stops here with our error.

            Read from `version --short` like doctor does: helm 2 prints its client version there
            before failing on Tiller, so it is named, not just "unreadable"."""
            import semver

            result = self.runner.run(version_argv("helm", self.executable), check=False, timeout=30)
            text = (result.stdout + " " + result.stderr).strip()
            problem = unsupported(text) if result.ok or parse_version(text) else f"`helm version` failed: {text[:200]}"
            if problem:
                raise KfbError(f"{self.executable}: {problem}", hint=HELM_HINT)
            version = parse_version(text)
            assert version is not None  # unsupported() judged it readable
            return semver.Version(*version)

    class RunnerClient(Client):
        def check_executable_exists(self, executable: str) -> None:
            """Helm.client() already asked the runner; pyhelm3's own check ignores it."""

    command = RunnerCommand(runner, deadline, **command_options)
    return RunnerClient(command, executable=command_options["executable"])


def _error_class(helm_errors: Any, stderr: str) -> type:
    """The pyhelm3 error for helm's stderr (pyhelm3's own code relies on ReleaseNotFoundError)."""
    text = stderr.lower()
    if "release: not found" in text:
        return helm_errors.ReleaseNotFoundError
    if "failed to render chart" in text or "execution error" in text:
        return helm_errors.FailedToRenderChartError
    if "not found" in text and "chart" in text:
        return helm_errors.ChartNotFoundError
    if "etcdserver" in text or "connection refused" in text or "network is unreachable" in text:
        return helm_errors.ConnectionError
    return helm_errors.Error


class Helm:
    """The releases of one cluster (kube context), through pyhelm3."""

    def __init__(
        self,
        runner: Runner,
        executable: str = "helm",
        context: str | None = None,
        kubeconfig: str | None = None,
        timeout_seconds: int = 600,
        api_timeout: float = 60.0,
    ):
        """`timeout_seconds`: helm's own --timeout of a change; `api_timeout`: timeouts.api, which
        bounds a read of the cluster."""
        self.runner = runner
        self.executable = executable
        self.context = context
        self.kubeconfig = kubeconfig
        self.timeout_seconds = int(timeout_seconds)
        self.timeout = f"{self.timeout_seconds}s"
        self.api_timeout = float(api_timeout)
        self._client = None

    def deadline(self, command: Sequence[Any]) -> float:
        """Seconds one helm command (`list ...`, `upgrade ...`) may run before it is killed."""
        verb = str(command[0]) if command else ""
        reads = 2 * self.api_timeout + START_SECONDS
        if verb in CLUSTER_READS:
            return reads
        if verb in DOWNLOADS:
            return DOWNLOAD_SECONDS
        return self.timeout_seconds + reads + 60  # install, upgrade, rollback, uninstall: helm's own wait too

    def client(self):
        if self._client is None:
            if self.runner.which(self.executable) is None and not Path(self.executable).is_file():
                raise ToolMissing(self.executable, HELM_HINT)
            self._client = _make_client(
                self.runner,
                self.deadline,
                executable=self.executable,
                kubecontext=self.context,
                kubeconfig=self.kubeconfig,
                default_timeout=self.timeout,
            )
        return self._client

    def state(self, release: str, namespace: str) -> ReleaseState | None:
        """The release's current revision, or None when it does not exist."""
        return _run(self._state(release, namespace), f"read release {release}")

    def is_current(
        self, release: str, namespace: str, source: "ChartSource", chart: str, values: dict[str, Any]
    ) -> bool:
        state = self.state(release, namespace)
        return state is not None and _matches(state, chart, source.version, values)

    def list_all(self) -> list[dict[str, Any]]:
        """Every release in every namespace and state, as `helm list -o json` reports them.

        Asks for each state by name instead of `--all`, which helm 4 dropped (it lists every
        state by default there, and its state flags still filter): one command for both.
        """
        return list(_run(self._list_all(), "list releases"))

    async def _list_all(self) -> Any:
        return await self.client().list_release_definitions(
            all_namespaces=True,
            include_deployed=True,
            include_failed=True,
            include_pending=True,
            include_superseded=True,
            include_uninstalled=True,
            include_uninstalling=True,
        )

    def ensure(
        self,
        release: str,
        namespace: str,
        source: "ChartSource",
        chart: str,
        values: dict[str, Any],
        on_note: Callable[[str], None] = lambda _: None,
    ) -> ReleaseResult:
        """Recover a stuck release, then install or upgrade only if chart version or values differ."""
        return _run(self._ensure(release, namespace, source, chart, values, on_note), f"install release {release}")

    def pull(self, source: "ChartSource", chart: str, destination: Path) -> Path:
        """`helm pull` a repository chart's archive into `destination` (for offline `up`); the path of it."""
        self.runner.run(
            [
                self.executable,
                "pull",
                source.ref,
                "--repo",
                source.repo or "",
                "--version",
                source.version,
                "--destination",
                str(destination),
            ],
            timeout=DOWNLOAD_SECONDS,
        )
        return destination / f"{chart}-{source.version}.tgz"

    def template(
        self, release: str, namespace: str, source: "ChartSource", values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The objects `helm template` renders (no cluster needed): what the release would run."""
        return _run(self._template(release, namespace, source, values), f"render chart {source.ref}")

    async def _template(
        self, release: str, namespace: str, source: "ChartSource", values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        client = self.client()
        chart_obj = await client.get_chart(source.ref, repo=source.repo, version=source.version)
        return [
            dict(obj) for obj in await client.template_resources(chart_obj, release, values, namespace=namespace) if obj
        ]

    async def _state(self, release: str, namespace: str) -> ReleaseState | None:
        from pyhelm3.errors import ReleaseNotFoundError

        try:
            revision = await self.client().get_current_revision(release, namespace=namespace)
        except ReleaseNotFoundError:
            return None
        return await _state_of(revision)

    async def _ensure(
        self,
        release: str,
        namespace: str,
        source: "ChartSource",
        chart: str,
        values: dict[str, Any],
        on_note: Callable[[str], None],
    ) -> ReleaseResult:
        client = self.client()
        state = await self._state(release, namespace)
        recovered = None
        if state is not None and state.status in STUCK_UNINSTALL + STUCK_ROLLBACK:
            recovered = await self._recover(release, namespace, state, on_note)
            state = await self._state(release, namespace)
        if state is not None and _matches(state, chart, source.version, values):
            return ReleaseResult("unchanged", state.revision, recovered)
        chart_obj = await client.get_chart(source.ref, repo=source.repo, version=source.version)
        revision = await client.install_or_upgrade_release(
            release,
            chart_obj,
            values,
            namespace=namespace,
            create_namespace=True,
            timeout=self.timeout,
            wait=False,
            description=f"kfbootstrap: {chart} {source.version}",
        )
        action = "installed" if state is None else "upgraded"
        log.info("helm: %s %s revision %s (%s %s)", action, release, revision.revision, chart, source.version)
        return ReleaseResult(action, revision.revision, recovered)

    async def _recover(self, release: str, namespace: str, state: ReleaseState, on_note: Callable[[str], None]) -> str:
        """Unblock a release an interrupted run left pending; helm refuses any new operation until then."""
        client = self.client()
        if state.status in STUCK_UNINSTALL:
            note = (
                f"release {release} was stuck in {state.status} (revision {state.revision}, an interrupted run): "
                "uninstalled it to install again"
            )
            on_note(note)
            await client.uninstall_release(release, namespace=namespace, wait=True, timeout=self.timeout)
        else:
            note = (
                f"release {release} was stuck in {state.status} (revision {state.revision}, an interrupted run): "
                "rolled back to the last good revision before upgrading"
            )
            on_note(note)
            revision = await client.get_current_revision(release, namespace=namespace)
            await revision.release.rollback(cleanup_on_fail=True, wait=False, timeout=self.timeout)
        log.info("helm: %s", note)
        return note


async def _state_of(revision: Any) -> ReleaseState:
    metadata = await revision.chart_metadata()
    values = await revision.values()
    return ReleaseState(
        revision=revision.revision,
        status=str(getattr(revision.status, "value", revision.status)),
        chart=metadata.name,
        chart_version=str(metadata.version),
        values=values or {},
    )


def _matches(state: ReleaseState, chart: str, version: str, values: dict[str, Any]) -> bool:
    """Deployed, same chart and version, same values (compared as JSON, as helm stores them)."""
    return (
        state.status == "deployed"
        and state.chart == chart
        and state.chart_version == version
        and _canonical(state.values) == _canonical(values)
    )


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """The run's one event loop for pyhelm3 (made on first use), instead of a new one per call."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def _run(coro, what: str):
    """Run one pyhelm3 coroutine on the run's loop; its errors become HelmFailed with helm's last line and a hint."""
    from pyhelm3 import errors as helm_errors

    try:
        return _loop().run_until_complete(coro)
    except helm_errors.Error as exc:
        raise _helm_failed(exc, what) from None


def _helm_failed(exc: Any, what: str) -> HelmFailed:
    from pyhelm3 import errors as helm_errors

    stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1][:300] if lines else f"exit {exc.returncode}"
    if isinstance(exc, helm_errors.ChartNotFoundError):
        hint = "check the chart repository is reachable, or set charts.local_dir to a directory of chart archives"
    elif isinstance(exc, helm_errors.ConnectionError):
        hint = "check the cluster answers: `kubectl get nodes`"
    elif isinstance(exc, helm_errors.FailedToRenderChartError):
        hint = "a values file does not fit the chart; check charts.<name>.values"
    else:
        hint = "re-run with -v for helm's full output in the log"
    return HelmFailed(f"helm could not {what}: {last}", hint=hint)
