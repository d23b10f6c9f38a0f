"""kubectl for what the kubeconfig knows (contexts) and a cheap /readyz probe; the API itself goes through kube/."""

from __future__ import annotations

from kfbootstrap.tools.runner import Runner


class Kubectl:
    def __init__(self, runner: Runner, context: str | None = None):
        self.runner = runner
        self.context = context

    def argv(self, *args: str) -> list[str]:
        """kubectl with our context, or the current one when none is set."""
        return ["kubectl", *(["--context", self.context] if self.context else []), *args]

    def contexts(self) -> list[str]:
        return self.runner.run(["kubectl", "config", "get-contexts", "-o", "name"]).stdout.split()

    def current_context(self) -> str | None:
        return self.runner.run(["kubectl", "config", "current-context"], check=False).stdout.strip() or None

    def api_ready(self) -> bool:
        """Does the API server behind the context answer /readyz?"""
        argv = self.argv("get", "--raw", "/readyz", "--request-timeout", "10s")
        return self.runner.run(argv, check=False, timeout=30).ok
