"""The docker CLI, only for facts kind depends on: is the daemon up, how big is it, its networks."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kfbootstrap.errors import KfbError
from kfbootstrap.tools.runner import Runner


@dataclass(frozen=True)
class DockerInfo:
    server_version: str
    memory_gib: float
    cpus: int
    operating_system: str

    @property
    def is_desktop(self) -> bool:
        """Docker Desktop (macOS/Windows) runs in a VM: LoadBalancer IPs are not reachable from the host."""
        return "docker desktop" in self.operating_system.lower()


class Docker:
    def __init__(self, runner: Runner):
        self.runner = runner

    def info(self) -> DockerInfo:
        result = self.runner.run(["docker", "info", "--format", "{{json .}}"], check=False, timeout=30)
        if not result.ok:
            raise KfbError("the Docker daemon is not reachable",
                           hint="start Docker (or Docker Desktop) and check `docker info` works for your user")
        data = json.loads(result.stdout or "{}")
        return DockerInfo(
            server_version=str(data.get("ServerVersion", "")),
            memory_gib=int(data.get("MemTotal") or 0) / 1024**3,
            cpus=int(data.get("NCPU") or 0),
            operating_system=str(data.get("OperatingSystem", "")),
        )

    def network_ipv4_subnets(self, network: str) -> list[str]:
        """IPv4 subnets of a docker network (MetalLB picks its pool from kind's)."""
        result = self.runner.run(["docker", "network", "inspect", network, "--format", "{{json .IPAM.Config}}"])
        configs = json.loads(result.stdout or "[]") or []
        return [c["Subnet"] for c in configs if "Subnet" in c and ":" not in c["Subnet"]]
