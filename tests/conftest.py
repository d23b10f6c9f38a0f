"""Shared test setup: every test gets a private state dir and no KFBOOTSTRAP_* from the caller's shell."""

from __future__ import annotations

import os
import socket
import threading

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


@pytest.fixture(scope="module")
def silent_server():
    """A hung API server: listens on 127.0.0.1, accepts every connection, reads nothing, never writes.
    Yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()
