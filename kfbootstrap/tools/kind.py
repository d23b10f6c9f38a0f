"""The kind CLI: list, create, delete clusters and export their logs."""

from __future__ import annotations

from pathlib import Path

from kfbootstrap.tools.runner import Runner


class Kind:
    def __init__(self, runner: Runner):
        self.runner = runner

    def version(self) -> str:
        return self.runner.run(["kind", "version"]).stdout.strip()

    def clusters(self) -> list[str]:
        # With no clusters kind prints "No kind clusters found." on stderr and exits 0.
        return self.runner.run(["kind", "get", "clusters"]).stdout.split()

    def nodes(self, name: str) -> list[str]:
        """The node containers of a cluster (each a Docker container of that name)."""
        return sorted(self.runner.run(["kind", "get", "nodes", "--name", name]).stdout.split())

    def exists(self, name: str) -> bool:
        return name in self.clusters()

    def create(self, name: str, config_path: Path, wait_seconds: int) -> None:
        self.runner.run(
            ["kind", "create", "cluster", "--name", name, "--config", str(config_path), "--wait", f"{wait_seconds}s"],
            timeout=wait_seconds + 600,  # image pull and node boot come before kind's own wait
        )

    def delete(self, name: str) -> None:
        self.runner.run(["kind", "delete", "cluster", "--name", name])

    def export_logs(self, name: str, directory: Path) -> None:
        self.runner.run(["kind", "export", "logs", str(directory), "--name", name])
