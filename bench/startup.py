"""Startup benchmark: kfbootstrap's --help against a bare typer app with the same command names.

Typer itself imports rich, so a bare app is the floor. If kfbootstrap stays within
1.3x of it, nothing heavy (kubernetes, pyhelm3, sh, pydantic models) loads at startup.
A full run exits 1 when a ratio is over the target. --quick (3 runs each instead of 15;
CI runs it, tests/integration/test_bench_quick.py) prints the same ratios without judging
them, and exits 1 only when something breaks: a command fails or prints no usage.
Run: make bench   (or .venv/bin/python bench/startup.py [--runs N] [--quick])
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = ["up", "down", "status", "expose", "creds", "doctor", "render", "smoke", "diagnose", "version"]
TARGET_RATIO = 1.3
RUNS, QUICK_RUNS = 15, 3

BARE_APP = """
import typer
app = typer.Typer(no_args_is_help=True)
config_app = typer.Typer()
app.add_typer(config_app, name="config")
for name in {commands!r}:
    def command(target: str = typer.Argument(None), config: str = typer.Option(None, "--config")) -> None:
        "A command."
    app.command(name)(command)
if __name__ == "__main__":
    app()
"""


def median_seconds(argv: list[str], runs: int) -> float:
    warm = subprocess.run(argv, capture_output=True, text=True, check=True)  # warm the OS file cache
    if "Usage" not in warm.stdout:
        raise SystemExit(f"error: {' '.join(argv)} printed no usage:\n{warm.stdout[-2000:]}{warm.stderr[-2000:]}")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help=f"timed runs per command (default {RUNS}; --quick: {QUICK_RUNS})")
    parser.add_argument("--quick", action="store_true", help="few runs, ratios printed but not judged: CI's check")
    args = parser.parse_args()
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    ours = shutil.which("kfbootstrap", path=str(Path(sys.executable).parent)) or shutil.which("kfbootstrap")
    if ours is None:
        print("kfbootstrap is not installed in this environment (make venv)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP.format(commands=COMMANDS))
        over = broken = False
        print(f"startup benchmark: median of {runs} runs{', --quick' if args.quick else ''}")
        print(f"{'command':<22} {'kfbootstrap':>12} {'bare typer':>12}")
        ratios = []
        for extra in (["--help"], ["creds", "--help"]):
            mine = median_seconds([ours, *extra], runs)
            floor = median_seconds([sys.executable, str(bare), *extra], runs)
            ratio = mine / floor if floor > 0 else math.nan
            ratios.append((" ".join(extra), ratio))
            print(f"{' '.join(extra):<22} {mine:>11.3f}s {floor:>11.3f}s")
        # One line per ratio, `ratio <what>: <x>x`: CI parses them (tests/integration/test_bench_quick.py).
        for what, ratio in ratios:
            broken |= not (ratio > 0 and math.isfinite(ratio))
            over |= not ratio <= TARGET_RATIO
            verdict = "quick run, not judged" if args.quick else "ok" if ratio <= TARGET_RATIO else "OVER"
            print(f"ratio {what} kfbootstrap/bare typer: {ratio:.3f}x  target <= {TARGET_RATIO}x -> {verdict}")
    if broken:
        print("error: a ratio is not a positive number", file=sys.stderr)
    return 1 if broken or (over and not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
