"""What every step receives: the config, the command runner, the host probe and the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kfbootstrap.config import Config
from kfbootstrap.host import HostProbe
from kfbootstrap.tools.runner import Runner


@dataclass
class RunContext:
    config: Config
    runner: Runner
    host: HostProbe = field(default_factory=HostProbe)
    state_dir: Path | None = None

    def cluster_state_dir(self) -> Path:
        """Per-cluster files (rendered kind config, markers), under the user's state directory."""
        from kfbootstrap import paths

        base = self.state_dir or paths.state_dir()
        return paths.ensure(base / "clusters" / self.config.cluster.name)
