"""Facts about the machine we run on: memory, CPUs, sysctls, local ports.

Kept behind one small class so doctor's findings can be tested against faked
machines (tests pass a HostProbe with canned answers).
"""

from __future__ import annotations

import errno
import os
import platform
import socket
from pathlib import Path


class HostProbe:
    """Reads the real machine. Each method answers None when the fact cannot be known here."""

    def system(self) -> str:
        return platform.system()  # "Linux", "Darwin", "Windows"

    def memory_gib(self) -> float | None:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / (1024 * 1024)
        except OSError:
            pass
        return None

    def cpus(self) -> int | None:
        return os.cpu_count()

    def machine(self) -> str:
        """The CPU architecture as image indexes name it (amd64, arm64, ...)."""
        raw = platform.machine().lower()
        return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(raw, raw)

    def free_disk_gib(self, path: str) -> float | None:
        """Free space of the filesystem holding `path` (its nearest existing parent), or None."""
        import shutil

        candidate = Path(path)
        while not candidate.exists() and candidate != candidate.parent:
            candidate = candidate.parent
        try:
            return shutil.disk_usage(candidate).free / 1024**3
        except OSError:
            return None

    def sysctl(self, name: str) -> int | None:
        try:
            return int(Path("/proc/sys", *name.split(".")).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def is_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def port_free(self, address: str, port: int) -> bool:
        """False when something listens there; PermissionError for a privileged port (free, but not ours)."""
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise
        return True

    def port_holder(self, port: int) -> str | None:
        """'pid 123 (kubectl)' for the process listening on `port`, where /proc tells us."""
        return port_holder(port)


def port_holder(port: int) -> str | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (pid_dir / "comm").read_text().strip()
                    return f"pid {pid_dir.name} ({name})"
        except OSError:
            continue
    return "another process"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes
