"""The benchmarks that need the testbed (or nothing), in their --quick mode: each must still run,
exit 0 and print its ratios (positive numbers). Speed is never asserted: the full runs measure it."""

from __future__ import annotations

import os

from tests.bench_helpers import assert_positive, ratios, run_quick
from tests.shared_fixtures import fixture_path, shared_dir


def test_startup_bench_quick_prints_its_ratios():
    result = run_quick("startup.py", dict(os.environ), timeout=300)
    assert_positive(ratios(result.stdout), "--help kfbootstrap/bare typer", "creds --help kfbootstrap/bare typer")


def test_apply_bench_quick_prints_its_ratios(testbed):
    """Three fresh testbeds of its own (our engine, the upstream loop, one kubectl pass), built from
    the same binaries and kwok stages as the `testbed` fixture's."""
    fixture_path("kubeflow-26.03", "example.yaml.xz")  # skips, or fails under KFB_REQUIRE_TESTBED=1
    env = {
        **os.environ,
        "KFB_TESTBED_BIN": str(testbed.bin_dir),
        "KFB_KWOK_STAGES": str(testbed.stage_dir),
        "KFB_SHARED_DIR": str(shared_dir()),
    }
    result = run_quick("apply.py", env, timeout=900)
    assert_positive(
        ratios(result.stdout),
        "(a)/(b) wall",
        "(a)/(c) wall",
        "(a)/(b) server APPLY requests",
        "(a)/(c) server APPLY requests",
    )
