"""bench/image_cache.py in its --quick mode (1 image) on the Kind ground: it must still run, exit 0
and print its ratios. Speed is never asserted: the full run (manual) measures it.

The bench sets up its own world, as tests/e2e/test_image_cache.py's `world` fixture does (a Docker
network, a stand-in upstream from tests/e2e/cache_ground.py, a first and a second cluster through
kfbootstrap's cache), under names of its own run; the `ground` fixture only makes a missing ground
skip, or fail under KFB_REQUIRE_TESTBED=1.
"""

from __future__ import annotations

import math
import os

import pytest

from tests.bench_helpers import assert_positive, ratios, run_quick

pytestmark = pytest.mark.kind


@pytest.mark.timeout(2400)  # two clusters, one after the other, each `up` then `down`
def test_image_cache_bench_quick_prints_its_ratios(ground):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
    result = run_quick("image_cache.py", env, timeout=2100)
    found = ratios(result.stdout)
    assert_positive(found, "second/first cluster pods ready")
    for name in ("second/first cluster upstream pulls", "second/first cluster upstream bytes"):
        assert name in found, f"no `ratio {name}: ...x` line; ratios printed: {found}"
        assert math.isfinite(found[name]) and found[name] >= 0, f"ratio {name} is {found[name]}"  # 0: all cached
    assert "image cache benchmark: 1 images" in result.stdout


@pytest.mark.timeout(1800)  # one cluster: a fresh `up`, `stop`, `start`, `down`
def test_stop_start_bench_quick_prints_its_ratio(ground):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
    result = run_quick("stop_start.py", env, timeout=1500)
    assert_positive(ratios(result.stdout), "start/fresh up")
    assert "start's cluster step: ✓ Start Kind cluster" in result.stdout
