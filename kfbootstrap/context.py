"""What every step receives: the config, the command runner, the host probe and the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kfbootstrap.config import Config
from kfbootstrap.host import HostProbe
from kfbootstrap.tools.runner import Runner

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import Timeouts


@dataclass
class RunContext:
    config: Config
    runner: Runner
    host: HostProbe = field(default_factory=HostProbe)
    state_dir: Path | None = None
    # `up` only: hold the cluster's up lock (kfbootstrap/kube/lease.py) from the cluster step on, waiting this
    # many seconds for another run's; None: no lock (tests, and every other command).
    up_lock_wait: float | None = None
    # `up --allow-downgrade`: apply an older release than the one recorded in the cluster.
    allow_downgrade: bool = False
    _kube: "Kube | None" = field(default=None, init=False, repr=False)

    def cluster_state_dir(self) -> Path:
        """Per-cluster files (rendered kind config, markers), under the user's state directory."""
        from kfbootstrap import paths

        base = self.state_dir or paths.state_dir()
        return paths.ensure(base / "clusters" / self.config.cluster.name)

    @property
    def kube(self) -> "Kube":
        """The run's one Kubernetes adapter, built on first use: after the cluster step made the
        context, and never for commands that do not talk to the cluster. Thread-safe."""
        if self._kube is None:
            self._kube = connect_kube(self.config)
        return self._kube


def connect_kube(config: Config, kubeconfig: str | None = None) -> "Kube":
    """The adapter for the config's cluster, every request bounded by timeouts.api: the one place a
    Config becomes a Kube (kube/client.py's factory knows nothing of the config)."""
    from kfbootstrap.kube.client import connect

    return connect(config.kube_context, api_timeouts(config), kubeconfig)


def shell_runner() -> Runner:
    """The runner that really runs programs (the CLI's default; tests pass a recording fake instead)."""
    from kfbootstrap.tools.runner import ShRunner

    return ShRunner()


def api_timeouts(config: Config) -> "Timeouts":
    from kfbootstrap.kube.rest import Timeouts

    return Timeouts(connect=min(10.0, float(config.timeouts.api)), read=float(config.timeouts.api))
