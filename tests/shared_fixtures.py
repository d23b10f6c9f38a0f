"""Upstream test data from ../shared/fixtures (never copied into the repository).

A missing file skips locally, but fails where the testbed is required (CI sets
KFB_REQUIRE_TESTBED=1), so a misplaced ../shared cannot turn tests into silent skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("KFB_SHARED_DIR") or REPO_ROOT.parent / "shared")


def fixture_path(*parts: str) -> Path:
    path = shared_dir().joinpath("fixtures", *parts)
    if not path.exists():
        message = f"fixture {path} not found (set KFB_SHARED_DIR)"
        if os.environ.get("KFB_REQUIRE_TESTBED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def render_without_webhooks(*parts: str) -> list[dict]:
    """A fixture render's objects minus its webhook configurations: the testbed has no webhook
    servers, so tests strip them from their input (never the product)."""
    import lzma

    from kfbootstrap.kube.objects import WEBHOOK_KINDS, parse_manifests

    path = fixture_path(*parts)
    return [
        o
        for o in parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))
        if o["kind"] not in WEBHOOK_KINDS
    ]
