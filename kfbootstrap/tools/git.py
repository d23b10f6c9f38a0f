"""git: shallow clones of a tag, and the commit a checkout is at."""

from __future__ import annotations

from pathlib import Path

from kfbootstrap.tools.runner import Runner


class Git:
    def __init__(self, runner: Runner):
        self.runner = runner

    def shallow_clone(self, url: str, tag: str, dest: Path, timeout: float = 600) -> None:
        """`git clone --depth 1 --branch TAG`: the one commit we render, not the repository's history."""
        self.runner.run(
            [
                "git",
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--branch",
                tag,
                "-c",
                "advice.detachedHead=false",
                url,
                str(dest),
            ],
            timeout=timeout,
        )

    def head(self, checkout: Path) -> str | None:
        """The commit checked out in `checkout`, or None when it is not a git work tree."""
        result = self.runner.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=False, timeout=30)
        return result.stdout.strip() or None if result.ok else None
