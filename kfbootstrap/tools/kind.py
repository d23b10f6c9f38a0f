"""The kind CLI: list, create, delete clusters, export their logs, read a node's kubelet journal.

A failed `kind create/delete cluster` raises KindFailed, whose message is kind's own `ERROR:`
line (not the last line of its output, which is usually a Go stack frame); kind's whole output
goes to the log file. It never holds a secret of ours: kind is given none.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from kfbootstrap.errors import CommandFailed, KfbError
from kfbootstrap.logsetup import where_logged
from kfbootstrap.tools.runner import Runner

log = logging.getLogger("kfbootstrap.kind")

MAX_LINE = 300  # characters of one quoted line of kind's output
# A Go stack frame's file line ("\tsigs.k8s.io/kind/pkg/cmd/kind/app/main.go:53", "runtime/asm_amd64.s:1771")
_FILE_FRAME = re.compile(r"^\s*\S+\.(go|s):\d+(\s+\+0x[0-9a-f]+)?$")


class KindFailed(KfbError):
    """`kind create/delete cluster` failed; `line` is what kind itself said went wrong."""

    def __init__(self, message: str, line: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.line = line


def error_line(output: str) -> str:
    """kind's own `ERROR:` line (the first), else the last line that is not part of a Go stack dump."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line[:MAX_LINE]
    frames = {i for i, line in enumerate(lines) if _FILE_FRAME.match(line)}
    frames |= {i - 1 for i in frames}  # the function line above each file line
    said = [line.strip() for i, line in enumerate(lines) if i not in frames and line.strip() != "Stack Trace:"]
    return said[-1][:MAX_LINE] if said else "no output"


def kind_failed(exc: CommandFailed, hint: str | None = None) -> KindFailed:
    """The error for a failed kind command; its whole output goes to the log file."""
    command = " ".join(exc.argv[:3])
    log.info("`%s` failed (exit %s); its output:\n%s%s", " ".join(exc.argv), exc.returncode, exc.stdout, exc.stderr)
    line = error_line(exc.stderr + "\n" + exc.stdout)
    return KindFailed(
        f"`{command}` failed (exit {exc.returncode}): {line}",
        line,
        hint=hint or f"kind's full output is in {where_logged()}",
    )


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

    def create(self, name: str, config_path: Path, wait_seconds: int, retain: bool = False) -> None:
        """KindFailed when kind fails. `retain`: kind keeps the nodes of a failed create (to read their
        logs); the caller deletes them."""
        argv = ["kind", "create", "cluster", "--name", name, "--config", str(config_path), "--wait", f"{wait_seconds}s"]
        try:
            # image pull and node boot come before kind's own wait
            self.runner.run([*argv, *(["--retain"] if retain else [])], timeout=wait_seconds + 600)
        except CommandFailed as exc:
            raise kind_failed(exc) from None

    def delete(self, name: str) -> None:
        try:
            self.runner.run(["kind", "delete", "cluster", "--name", name])
        except CommandFailed as exc:
            raise kind_failed(
                exc,
                hint=f"kind's full output is in {where_logged()}; what is left of the cluster: "
                f"`docker ps -a --filter label=io.x-k8s.kind.cluster={name}`",
            ) from None

    def kubelet_journal(self, name: str, lines: int = 200) -> str:
        """The last `lines` of kubelet's journal on the cluster's control-plane node, `<name>-control-plane`
        as kind names it; '' when it cannot be read (no such node, no journal)."""
        node = f"{name}-control-plane"
        argv = ["docker", "exec", node, "journalctl", "-u", "kubelet", "--no-pager", "-n", str(lines)]
        try:
            result = self.runner.run(argv, check=False, timeout=60)
        except KfbError:
            return ""
        return result.stdout if result.ok else ""

    def export_logs(self, name: str, directory: Path) -> None:
        self.runner.run(["kind", "export", "logs", str(directory), "--name", name])
