"""The Kind ground keeps this machine's traffic rule: the Docker engine pulls nothing upstream.

tests/kind/engine.sh gives dockerd an HTTP(S) proxy at a closed local port, so `docker pull`
of an upstream image (or kind pulling a node image) fails at once instead of trying the
internet. The nodes' own rule (their egress chain) is tested in test_image_cache.py, where
nodes of both flavours run.
"""

from __future__ import annotations

import subprocess
import time

import pytest

pytestmark = pytest.mark.kind

CLOSED_PROXY = "http://127.0.0.1:1"


def test_the_engine_sends_every_pull_to_a_closed_local_proxy(ground):
    info = subprocess.run(
        ["docker", "info", "--format", "{{.HTTPProxy}} {{.HTTPSProxy}}"], capture_output=True, text=True, check=True
    )
    # Checked before pulling: without the proxy the pull below would try the internet.
    assert info.stdout.split() == [CLOSED_PROXY, CLOSED_PROXY], info.stdout
    started = time.monotonic()
    pull = subprocess.run(
        ["docker", "pull", "registry.k8s.io/pause:3.10"], capture_output=True, text=True, timeout=60, check=False
    )
    took = time.monotonic() - started
    assert pull.returncode != 0, pull.stdout
    assert "proxyconnect" in pull.stderr and "127.0.0.1:1" in pull.stderr, pull.stderr
    assert took < 10, took
