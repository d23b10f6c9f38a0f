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
