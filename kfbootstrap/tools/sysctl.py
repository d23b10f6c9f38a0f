"""Write kernel parameters with sysctl, through sudo unless we are root (`doctor --fix`)."""

from __future__ import annotations

from typing import Mapping

from kfbootstrap.tools.runner import Runner


def write(runner: Runner, values: Mapping[str, int], as_root: bool) -> None:
    argv = ["sysctl", "-w", *(f"{k}={v}" for k, v in values.items())]
    runner.run(argv if as_root else ["sudo", *argv])
