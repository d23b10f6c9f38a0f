"""Running a benchmark's --quick mode from a test (tests/*/test_bench_quick.py): CI runs every bench so none can rot;
and what the Kind benches share (kind_ground).

The benches print one line per ratio, `ratio <what>: <x>x`; the tests check each is a
number that makes sense, never how fast anything was.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
_RATIO = re.compile(r"^ratio (?P<what>.+?): (?P<value>\S+)x(?:\s|$)", re.MULTILINE)


def run_quick(script: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`bench/<script> --quick` in a child; a non-zero exit fails the test with the bench's output."""
    import pytest

    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=BENCH.parent,
    )
    print(result.stdout)  # the ratios in the test's log (pytest -rA or a failure shows them)
    if result.returncode != 0:
        pytest.fail(
            f"bench/{script} --quick exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def ratios(stdout: str) -> dict[str, float]:
    """Every `ratio <what>: <x>x` line, by what; a value that is no number reads as nan."""
    found = {}
    for match in _RATIO.finditer(stdout):
        try:
            found[match["what"]] = float(match["value"])
        except ValueError:
            found[match["what"]] = math.nan
    return found


def assert_positive(found: dict[str, float], *names: str) -> None:
    """Each named ratio was printed and is a positive, finite number."""
    for name in names:
        assert name in found, f"no `ratio {name}: ...x` line; ratios printed: {found}"
        value = found[name]
        assert math.isfinite(value) and value > 0, f"ratio {name} is {value}, not a positive number"


def kind_ground() -> dict[str, str]:
    """The built Kind test ground's values (KFB_KIND, KFB_KIND_NODE_IMAGE, …) and BIN, the testbed's binaries;
    a ground not built ends the bench with one line and a hint."""
    repo = BENCH.parent
    checked = subprocess.run(["bash", str(repo / "tests/kind/build.sh"), "--check"], capture_output=True, text=True)
    if checked.returncode != 0:
        sys.exit(f"error: the Kind test ground is not built ({checked.stderr.strip()})\nhint: run `make kindground`")
    values = dict(line.split("=", 1) for line in checked.stdout.split() if "=" in line)
    values["BIN"] = subprocess.run(
        ["bash", str(repo / "tests/testbed/build.sh"), "--check"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return values
