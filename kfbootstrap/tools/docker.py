"""The docker CLI, only for facts kind depends on: is the daemon up, how big is it, its networks."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from kfbootstrap.errors import KfbError
from kfbootstrap.tools.runner import Result, Runner


# `docker info` reports the kernel's name for the architecture; image indexes use Go's.
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


@dataclass(frozen=True)
class DockerInfo:
    server_version: str
    memory_gib: float
    cpus: int
    operating_system: str
    architecture: str = "amd64"  # as image indexes name it (the nodes run on the daemon's architecture)
    root_dir: str = ""  # DockerRootDir: where images and the Kind nodes' filesystems live

    @property
    def is_desktop(self) -> bool:
        """Docker Desktop (macOS/Windows) runs in a VM: LoadBalancer IPs are not reachable from the host."""
        return "docker desktop" in self.operating_system.lower()


class DockerUnreachable(KfbError):
    """The Docker daemon does not answer (not running, another DOCKER_HOST, no permission on its socket)."""


def require_docker(runner: Runner, consequence: str) -> None:
    """Raise DockerUnreachable, saying `consequence`, unless the Docker daemon answers.

    Commands that read or remove containers and volumes ask first: without it a daemon that does not
    answer looks like "no such container" to every later call, and they would report nothing cached,
    or nothing removed, with success."""
    result = runner.run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=30)
    if result.ok and result.stdout.strip():
        return
    said = " ".join(((result.stderr or result.stdout).strip().splitlines() or [""])[-1].split())[:300]
    match = re.search(r"daemon(?: socket)? at (\S+?)\.?(?:\s|$)", said)
    address = match.group(1) if match else os.environ.get("DOCKER_HOST") or "its socket"
    detail = "" if said.startswith("Cannot connect to the Docker daemon") or not said else f" ({said})"
    hint = "start Docker (or Docker Desktop) and check that `docker info` works for your user"
    if os.environ.get("DOCKER_HOST"):
        hint += f"; DOCKER_HOST={os.environ['DOCKER_HOST']} is set in this environment"
    raise DockerUnreachable(f"Docker does not answer at {address}{detail}: {consequence}", hint=hint)


class Docker:
    def __init__(self, runner: Runner):
        self.runner = runner

    def info(self) -> DockerInfo:
        result = self.runner.run(["docker", "info", "--format", "{{json .}}"], check=False, timeout=30)
        if not result.ok:
            raise KfbError(
                "the Docker daemon is not reachable",
                hint="start Docker (or Docker Desktop) and check `docker info` works for your user",
            )
        data = json.loads(result.stdout or "{}")
        return DockerInfo(
            server_version=str(data.get("ServerVersion", "")),
            memory_gib=int(data.get("MemTotal") or 0) / 1024**3,
            cpus=int(data.get("NCPU") or 0),
            operating_system=str(data.get("OperatingSystem", "")),
            architecture=_ARCHITECTURES.get(
                str(data.get("Architecture", "")), str(data.get("Architecture") or "amd64")
            ),
            root_dir=str(data.get("DockerRootDir") or ""),
        )

    def cgroup_version(self) -> str | None:
        """The cgroup version Docker runs its containers (the Kind nodes) under: "1" or "2"; None when
        Docker does not say (not reachable, or an answer that is neither)."""
        try:
            result = self.runner.run(["docker", "info", "--format", "{{.CgroupVersion}}"], check=False, timeout=30)
        except KfbError:
            return None
        version = result.stdout.strip() if result.ok else ""
        return version if version in ("1", "2") else None

    def network_ipv4_subnets(self, network: str) -> list[str]:
        """IPv4 subnets of a docker network (MetalLB picks its pool from kind's)."""
        result = self.runner.run(["docker", "network", "inspect", network, "--format", "{{json .IPAM.Config}}"])
        configs = json.loads(result.stdout or "[]") or []
        return [c["Subnet"] for c in configs if "Subnet" in c and ":" not in c["Subnet"]]


@dataclass(frozen=True)
class ContainerState:
    """What `docker inspect` says about one container, reduced to what the image cache compares."""

    name: str
    image: str
    running: bool
    status: str
    labels: dict[str, str]
    env: dict[str, str]  # may hold registry credentials: compare it, never print it
    networks: list[str]
    mounts: list[str]  # volume names
    published: list[str] = field(default_factory=list)  # container ports published on the host, e.g. "5000/tcp"


class Containers:
    """Containers, volumes and networks on the host's Docker (the image cache lives there)."""

    def __init__(self, runner: Runner):
        self.runner = runner

    def inspect(self, name: str) -> ContainerState | None:
        result = self.runner.run(
            ["docker", "container", "inspect", name, "--format", "{{json .}}"], check=False, timeout=30
        )
        try:
            data = json.loads(result.stdout) if result.ok else None
        except ValueError:
            data = None  # not an answer docker gives for a container: treat it as absent
        if not isinstance(data, dict):
            return None
        config, state = data.get("Config") or {}, data.get("State") or {}
        env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        return ContainerState(
            name=name,
            image=str(config.get("Image", "")),
            running=bool(state.get("Running")),
            status=str(state.get("Status", "")),
            labels=dict(config.get("Labels") or {}),
            env=env,
            networks=sorted((data.get("NetworkSettings") or {}).get("Networks") or {}),
            mounts=[m.get("Name", "") for m in data.get("Mounts") or [] if m.get("Type") == "volume"],
            published=sorted(
                port
                for port, bindings in ((data.get("HostConfig") or {}).get("PortBindings") or {}).items()
                if bindings
            ),
        )

    def run_detached(self, options: list[str], image: str, env: dict[str, str] | None = None) -> None:
        """`docker run -d OPTIONS IMAGE`. Secret values travel in `env` (as `-e NAME` in options), never in argv."""
        import os

        process_env = {**os.environ, **env} if env else None
        self.runner.run(["docker", "run", "-d", *options, image], env=process_env, timeout=120)

    def start(self, name: str) -> None:
        self.runner.run(["docker", "start", name], timeout=60)

    def stop(self, name: str) -> None:
        self.runner.run(["docker", "stop", "--time", "5", name], timeout=60)

    def stop_together(self, names: list[str], grace_seconds: int = 5) -> None:
        """`docker stop` of several containers in one call (Docker stops them in parallel). A Kind node's
        systemd ignores SIGTERM, so each is killed after `grace_seconds`, as `docker stop` does."""
        if names:
            self.runner.run(["docker", "stop", "--time", str(grace_seconds), *names], timeout=120)

    def start_together(self, names: list[str]) -> None:
        if names:
            self.runner.run(["docker", "start", *names], timeout=120)

    def ipv4_addresses(self, name: str) -> list[str]:
        """The container's IPv4 addresses on its Docker networks (none while it is stopped)."""
        result = self.runner.run(
            [
                "docker",
                "container",
                "inspect",
                name,
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            ],
            check=False,
            timeout=30,
        )
        return result.stdout.split() if result.ok else []

    def copy_out(self, container: str, path: str) -> str:
        """A file of a container, running or stopped, as `docker cp` streams it (a tar archive, read as text:
        enough to search a small text file); '' when it cannot be read."""
        result = self.runner.run(["docker", "cp", f"{container}:{path}", "-"], check=False, timeout=60)
        return result.stdout if result.ok else ""

    def pinned_ipv4(self, container: str) -> str:
        """The IPv4 address the container is pinned to on its networks (`--ip`); '' when Docker picks one."""
        template = "{{range .NetworkSettings.Networks}}{{if .IPAMConfig}}{{.IPAMConfig.IPv4Address}}{{end}}{{end}}"
        result = self.runner.run(["docker", "container", "inspect", container, "--format", template], check=False)
        return result.stdout.strip() if result.ok else ""

    def network_ipv4_in_use(self, network: str) -> set[str]:
        """The IPv4 addresses the running containers of a network hold."""
        template = "{{range .Containers}}{{.IPv4Address}} {{end}}"
        result = self.runner.run(["docker", "network", "inspect", network, "--format", template], check=False)
        return {item.split("/")[0] for item in result.stdout.split()} if result.ok else set()

    def reconnect(self, network: str, container: str, ipv4: str | None) -> None:
        """Connect a stopped container to `network` again, pinned to `ipv4` (None: Docker picks one at start)."""
        self.runner.run(["docker", "network", "disconnect", network, container], timeout=60)
        pin = ["--ip", ipv4] if ipv4 else []
        self.runner.run(["docker", "network", "connect", *pin, network, container], timeout=60)

    def exec_in(self, container: str, script: str, timeout: float = 60) -> Result:
        """`sh -c script` inside a running container (a Kind node). Never raises on the exit code: read .ok."""
        return self.runner.run(["docker", "exec", container, "sh", "-c", script], check=False, timeout=timeout)

    def remove(self, name: str) -> None:
        self.runner.run(["docker", "rm", "--force", name], timeout=60)

    def image_exists(self, image: str) -> bool:
        return self.runner.run(["docker", "image", "inspect", image], check=False, timeout=30).ok

    def network_exists(self, network: str) -> bool:
        return self.runner.run(["docker", "network", "inspect", network], check=False, timeout=30).ok

    def connect(self, network: str, container: str) -> None:
        self.runner.run(["docker", "network", "connect", network, container], timeout=30)

    def volume_exists(self, volume: str) -> bool:
        return self.runner.run(["docker", "volume", "inspect", volume], check=False, timeout=30).ok

    def volume_create(self, volume: str, labels: dict[str, str]) -> None:
        argv = ["docker", "volume", "create"]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        self.runner.run([*argv, volume], timeout=60)

    def volume_label(self, volume: str, key: str) -> str | None:
        """One label of a volume; None when the volume or the label is missing."""
        result = self.runner.run(
            ["docker", "volume", "inspect", volume, "--format", "{{json .Labels}}"], check=False, timeout=30
        )
        try:
            labels = json.loads(result.stdout) if result.ok else None
        except ValueError:
            return None
        return str(labels[key]) if isinstance(labels, dict) and key in labels else None

    def volume_remove(self, volume: str) -> bool:
        """Remove a volume; False when there was none (`volume rm --force` succeeds for those too)."""
        if not self.volume_exists(volume):
            return False
        self.runner.run(["docker", "volume", "rm", "--force", volume], timeout=60)
        return True

    def volume_sizes(self) -> dict[str, int]:
        """Bytes used by each volume (`docker system df -v`; it walks the volumes, so it takes a moment)."""
        result = self.runner.run(
            ["docker", "system", "df", "-v", "--format", "{{json .Volumes}}"], check=False, timeout=120
        )
        if not result.ok:
            return {}
        sizes: dict[str, int] = {}
        try:
            volumes = json.loads(result.stdout or "[]") or []
        except ValueError:
            return {}
        for volume in volumes:
            sizes[str(volume.get("Name"))] = parse_size(str(volume.get("Size", "0B")))
        return sizes

    def host_port(self, container: str, port: int) -> int | None:
        """The 127.0.0.1 port Docker published a container port on, if any."""
        result = self.runner.run(["docker", "port", container, f"{port}/tcp"], check=False, timeout=30)
        for line in result.stdout.splitlines():
            host, _, number = line.strip().rpartition(":")
            if host in ("127.0.0.1", "0.0.0.0") and number.isdigit():
                return int(number)
        return None

    def write_file(self, container: str, path: str, text: str) -> None:
        """Write a file inside a running container (a Kind node) through its shell, creating the directory."""
        directory = path.rsplit("/", 1)[0]
        script = f"mkdir -p '{directory}' && cat > '{path}.kfb-new' && mv '{path}.kfb-new' '{path}'"
        self.runner.run(["docker", "exec", "-i", container, "sh", "-c", script], input=text, timeout=60)

    def read_file(self, container: str, path: str) -> str | None:
        result = self.runner.run(["docker", "exec", container, "cat", path], check=False, timeout=60)
        return result.stdout if result.ok else None

    def containerd_config_dump(self, container: str) -> Result:
        """`containerd config dump` in a Kind node: the config its containerd runs with, defaults included.
        Never raises on the exit code: read .ok."""
        return self.runner.run(["docker", "exec", container, "containerd", "config", "dump"], check=False, timeout=60)

    def containerd_version(self, container: str) -> Result:
        """`containerd --version` in a Kind node. Never raises on the exit code: read .ok."""
        return self.runner.run(["docker", "exec", container, "containerd", "--version"], check=False, timeout=60)


_UNITS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}


def parse_size(text: str) -> int:
    """Docker's human sizes ('12.3MB', '0B') as bytes."""
    import re

    match = re.match(r"^\s*([0-9.]+)\s*([A-Za-z]+)\s*$", text)
    if not match or match.group(2) not in _UNITS:
        return 0
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def credential_helper_get(runner: Runner, helper: str, server: str) -> tuple[str, str] | None:
    """(username, secret) from a Docker credential helper, or None when it has none for `server`.

    The server goes on stdin and the secret comes back on stdout: neither is in argv or the log.
    """
    program = f"docker-credential-{helper}"
    if runner.which(program) is None:
        return None
    result = runner.run([program, "get"], input=server, check=False, timeout=30)
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    username, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    return (username, secret) if username and secret else None
