"""Fakes for the thin edges that cannot run here (docker, kind): they record argv and answer from a script."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from kfbootstrap.errors import CommandFailed, ToolMissing
from kfbootstrap.host import HostProbe
from kfbootstrap.tools.runner import INSTALL_HINTS, Result


class FakeRunner:
    """Records every argv; answers with the response registered for the longest matching argv prefix."""

    def __init__(self, missing: Sequence[str] = ()):
        self.calls: list[list[str]] = []
        self.missing = set(missing)
        self._responses: list[tuple[tuple[str, ...], Callable[[list[str]], Result]]] = []

    def on(self, *prefix: str, stdout: str = "", stderr: str = "", exit_code: int = 0) -> "FakeRunner":
        self._responses.append((prefix, lambda argv: Result(tuple(argv), exit_code, stdout, stderr)))
        return self

    def on_call(self, *prefix: str, handler: Callable[[list[str]], Result]) -> "FakeRunner":
        self._responses.append((prefix, handler))
        return self

    def which(self, program: str) -> str | None:
        return None if program in self.missing else f"/usr/bin/{program}"

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[0] in self.missing:
            raise ToolMissing(argv[0], INSTALL_HINTS.get(argv[0], ""))
        result = self._respond(argv)
        if check and not result.ok:
            raise CommandFailed(argv, result.exit_code, result.stdout, result.stderr)
        return result

    def _respond(self, argv: list[str]) -> Result:
        matches = [(p, h) for p, h in self._responses if tuple(argv[: len(p)]) == p]
        if not matches:
            return Result(tuple(argv), 0, "", "")
        _, handler = max(reversed(matches), key=lambda m: len(m[0]))  # the latest registration wins a tie
        return handler(argv)

    def commands(self, program: str) -> list[list[str]]:
        return [argv for argv in self.calls if argv[0] == program]


class FakeHost(HostProbe):
    """A machine with the facts a test chooses."""

    def __init__(
        self,
        system: str = "Linux",
        memory_gib: float | None = 32.0,
        cpus: int | None = 8,
        sysctls: Mapping[str, int] | None = None,
        busy_ports: Mapping[int, str] | None = None,
        root: bool = False,
        machine: str = "amd64",
        free_disk: Mapping[str, float] | None = None,
    ):
        self._system = system
        self._machine = machine
        self.free_disk = dict(free_disk if free_disk is not None else {"/var/lib/docker": 500.0})
        self._memory = memory_gib
        self._cpus = cpus
        self.sysctls = dict(
            sysctls
            if sysctls is not None
            else {"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 2000000}
        )
        self.busy_ports = dict(busy_ports or {})
        self._root = root

    def system(self) -> str:
        return self._system

    def memory_gib(self) -> float | None:
        return self._memory

    def cpus(self) -> int | None:
        return self._cpus

    def machine(self) -> str:
        return self._machine

    def free_disk_gib(self, path: str) -> float | None:
        return self.free_disk.get(path)

    def sysctl(self, name: str) -> int | None:
        return self.sysctls.get(name)

    def is_root(self) -> bool:
        return self._root

    def port_free(self, address: str, port: int) -> bool:
        return port not in self.busy_ports

    def port_holder(self, port: int) -> str | None:
        return self.busy_ports.get(port)


KUBECTL_CLIENT_JSON = '{"clientVersion": {"gitVersion": "v1.34.1"}, "kustomizeVersion": "v5.7.1"}'
DOCKER_INFO_JSON = (
    '{"ServerVersion": "28.2.2", "MemTotal": 34359738368, "NCPU": 8, "OperatingSystem": "Ubuntu 24.04", '
    '"DockerRootDir": "/var/lib/docker", "Architecture": "x86_64"}'
)


def healthy_runner() -> FakeRunner:
    """A machine where every tool is present at a good version and Docker answers."""
    return (
        FakeRunner()
        .on("docker", "info", stdout=DOCKER_INFO_JSON)
        .on("docker", "info", "--format", "{{.CgroupVersion}}", stdout="2\n")
        .on("kind", "version", stdout="kind v0.32.0 go1.26.0 linux/amd64")
        .on("kubectl", "version", stdout=KUBECTL_CLIENT_JSON)
        .on("helm", "version", stdout="v3.19.0+g3d8990f")
    )
