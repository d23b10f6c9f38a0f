"""Long-lived children that outlive us: our own interpreter running one of our modules.

The Runner runs external tools to completion; a background forward is different: it
must run in its own session so Ctrl-C or closing the terminal does not reach it, and
it reports readiness with one line on its stdout. This module starts such a child,
finds it again later by its command line (`python -m <module> <argument>`), and stops
it. It knows nothing of what the child does.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Mapping

Process = subprocess.Popen
MAX_PID = 2**22  # Linux's highest pid_max; macOS stays far below
_PROC = Path("/proc")


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


def read_line(proc: Process, timeout: float) -> bytes | None:
    """The child's first stdout line (what it wrote before exiting, if it exits first); None when
    nothing ended a line within `timeout` seconds. Closes our end of its stdout."""
    assert proc.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                return None
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    proc.stdout.close()
    return line


def has_proc() -> bool:
    """Can processes be told apart by their command line here? (Linux: yes; macOS: no /proc.)"""
    return (_PROC / "self" / "cmdline").exists()


def runs_module(pid: int, module: str) -> bool:
    """Is `pid` a live process running `module`? (Where /proc exists, its command line must name it:
    a pid reused by an unrelated process is not ours; without /proc, being alive is all we can tell.)"""
    if not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not ours
    if has_proc():
        try:
            text = (_PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            return False
        if module.encode() not in text:
            return False
        return not _is_zombie(pid)
    return True


def module_argument(pid: int, module: str) -> bytes | None:
    """The argument `pid` was started with as `python -m module ARGUMENT`; None when it is not
    such a live process (or there is no /proc to read command lines from)."""
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if len(argv) < 4 or argv[1:3] != [b"-m", module.encode()] or _is_zombie(pid):
        return None
    return argv[3]


def running_module(module: str) -> list[tuple[int, bytes]]:
    """(pid, argument) of every live process running `module`, found in /proc (empty where there is none)."""
    if not has_proc():
        return []
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and entry.name.isascii():
            argument = module_argument(int(entry.name), module)
            if argument is not None:
                found.append((int(entry.name), argument))
    return found


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def terminate(pid: int, module: str, timeout: float) -> bool:
    """SIGTERM, then SIGKILL after `timeout` seconds while `pid` still runs `module`. True if it was signalled."""
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not runs_module(pid, module):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (started by this process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
