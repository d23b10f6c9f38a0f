"""Parse the version strings tools print, and compare them."""

from __future__ import annotations

import re

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """First x.y[.z] in `text` ('kind v0.30.0 go1.24' -> (0, 30, 0)); None when there is none."""
    match = _VERSION.search(text or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def format_version(version: tuple[int, int, int]) -> str:
    return "v" + ".".join(str(part) for part in version)


def version_argv(tool: str, executable: str | None = None) -> list[str]:
    """How each tool tells its version (kubectl's JSON also names its built-in kustomize)."""
    argv = {
        "kind": ["kind", "version"],
        "kubectl": ["kubectl", "version", "--client", "-o", "json"],
        "kustomize": ["kustomize", "version"],
        "helm": ["helm", "version", "--short"],
        "docker": ["docker", "version", "--format", "{{.Server.Version}}"],
    }[tool]
    return [executable or argv[0], *argv[1:]]
