"""Shared test setup: every test gets a private state dir and no KFBOOTSTRAP_* from the caller's shell."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_kfbootstrap_env(tmp_path_factory, monkeypatch):
    for var in list(os.environ):
        if var.startswith("KFBOOTSTRAP_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("KFBOOTSTRAP_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    # No test starts image caches unless it asks: their default image would be pulled from Docker
    # Hub, and no pull may leave this machine. Cache tests delete this and name a local test image.
    monkeypatch.setenv("KFBOOTSTRAP_CACHE__ENABLED", "false")
