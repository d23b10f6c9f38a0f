"""Startup benchmark: kfbootstrap's --help against a bare typer app with the same command names.

Typer itself imports rich, so a bare app is the floor. If kfbootstrap stays within
1.3x of it, nothing heavy (kubernetes, pyhelm3, sh, pydantic models) loads at startup.
Run: make bench   (or .venv/bin/python bench/startup.py [--runs N])
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = ["up", "down", "status", "expose", "creds", "doctor", "render", "smoke", "diagnose", "version"]
TARGET_RATIO = 1.3

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
    subprocess.run(argv, capture_output=True, check=True)  # warm the OS file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ours = shutil.which("kfbootstrap", path=str(Path(sys.executable).parent)) or shutil.which("kfbootstrap")
    if ours is None:
        print("kfbootstrap is not installed in this environment (make venv)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP.format(commands=COMMANDS))
        failed = False
        print(f"{'command':<22} {'kfbootstrap':>12} {'bare typer':>12} {'ratio':>7}  target <= {TARGET_RATIO}x")
        for extra in (["--help"], ["creds", "--help"]):
            mine = median_seconds([ours, *extra], args.runs)
            floor = median_seconds([sys.executable, str(bare), *extra], args.runs)
            ratio = mine / floor
            failed |= ratio > TARGET_RATIO
            print(f"{' '.join(extra):<22} {mine:>11.3f}s {floor:>11.3f}s {ratio:>6.2f}x  {'ok' if ratio <= TARGET_RATIO else 'OVER'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
