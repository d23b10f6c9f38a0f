"""kustomize: `kustomize build`, or the copy built into kubectl when kustomize is not installed."""

from __future__ import annotations

import json
from pathlib import Path

from kfbootstrap.tools.runner import Runner


class Kustomize:
    def __init__(self, runner: Runner):
        self.runner = runner
        self._argv: list[str] | None = None
        self._version: str | None = None

    def argv(self) -> list[str]:
        """Standalone kustomize when on PATH (usually newer), else `kubectl kustomize`."""
        if self._argv is None:
            self._argv = ["kustomize", "build"] if self.runner.which("kustomize") else ["kubectl", "kustomize"]
        return self._argv

    def version(self) -> str:
        """The kustomize version that renders (part of the render cache key: another version may render differently)."""
        if self._version is None:
            if self.argv()[0] == "kustomize":
                self._version = "kustomize " + self.runner.run(["kustomize", "version"], timeout=30).stdout.strip()
            else:
                out = self.runner.run(["kubectl", "version", "--client", "-o", "json"], timeout=30).stdout
                try:
                    self._version = "kubectl-kustomize " + str(json.loads(out).get("kustomizeVersion", "unknown"))
                except ValueError:
                    self._version = "kubectl-kustomize unknown"
        return self._version

    def build(self, directory: Path | str, timeout: float = 600) -> str:
        """The rendered YAML of one kustomization (which may fetch remote bases over git)."""
        return self.runner.run([*self.argv(), str(directory)], timeout=timeout).stdout
