"""What every step receives: the config, the command runner, the host probe and the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfbootstrap.config import Config
from kfbootstrap.host import HostProbe
from kfbootstrap.tools.runner import Runner


@dataclass
class RunContext:
    config: Config
    runner: Runner
    host: HostProbe = field(default_factory=HostProbe)
    state_dir: Path | None = None
    _api: Any = field(default=None, init=False, repr=False)

    def cluster_state_dir(self) -> Path:
        """Per-cluster files (rendered kind config, markers), under the user's state directory."""
        from kfbootstrap import paths

        base = self.state_dir or paths.state_dir()
        return paths.ensure(base / "clusters" / self.config.cluster.name)

    def new_api(self) -> Any:
        """A fresh ApiClient for the cluster (for work in other threads, which must not share one)."""
        from kfbootstrap.kube.client import api_client

        return api_client(self.config.kube_context)

    def api(self) -> Any:
        """The steps' shared ApiClient, built on first use: after the cluster step made the context,
        and never for commands that do not talk to the cluster."""
        if self._api is None:
            self._api = self.new_api()
        return self._api

    def core(self) -> Any:
        """CoreV1Api on the shared client."""
        from kubernetes import client

        return client.CoreV1Api(self.api())
