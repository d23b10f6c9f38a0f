"""Start a long-lived child that outlives us: our own interpreter running one of our modules.

The Runner runs external tools to completion; a background forward is different: it
must run in its own session so Ctrl-C or closing the terminal does not reach it,
and it reports readiness on its stdout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Mapping

Process = subprocess.Popen


def start_module(module: str, argument: str, *, cwd: Path, env: Mapping[str, str], log: IO[bytes]) -> Process:
    """`python -m module argument` in a new session; stdout is a pipe for its ready line, stderr the log."""
    return subprocess.Popen(
        [sys.executable, "-m", module, argument],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
        close_fds=True,
        cwd=str(cwd),
        env=dict(env),
    )
