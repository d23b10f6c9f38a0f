"""What a background forward is on disk: its record `<target>.json` and the files beside it.

A record says which detached process serves which target (pid, address, port, where it
forwards to); it is written when the forward starts and read back by `expose --list`,
`status`, `down` and the `up` step. Whatever is read is validated field by field: the
state directory is the user's, and a damaged or hostile file must not make us signal a
stranger's process or write outside the directory.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from kfbootstrap import paths
from kfbootstrap.tools.detached import MAX_PID


@dataclass
class ForwardSpec:
    """Everything the detached process needs; passed to it as JSON on its command line."""

    target: str
    address: str
    port: int
    namespace: str
    services: list[str]
    remote_port: int
    context: str | None = None
    kubeconfig: str | None = None
    directory: str = ""  # where the record, status and log files live (default: forwards_dir())

    def record_path(self) -> Path:
        return Path(self.directory) / f"{self.target}.json"

    def status_path(self) -> Path:
        return Path(self.directory) / f"{self.target}.status.json"


@dataclass
class ForwardRecord:
    """A started background forward, as stored in `<target>.json`.

    `path` is the file it was read from (None: found as a live daemon without a usable
    record); stopping a forward removes that file and the status file beside it, nothing else.
    """

    spec: ForwardSpec
    pid: int
    started_at: float
    log: str
    path: Path | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.spec), "pid": self.pid, "started_at": self.started_at, "log": self.log}

    @classmethod
    def from_json(cls, data: Any, directory: Path | None = None) -> "ForwardRecord":
        """Validate every field (ValueError names the first bad one). Where the files live is never taken
        from the record: it is `directory`, where the record was found."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        spec = spec_from_json(data, directory)
        started = data.get("started_at", 0)
        if not is_number(started) or not math.isfinite(started):
            raise ValueError("started_at is not a time")
        return cls(
            spec=spec,
            pid=_valid_pid(data.get("pid")),
            started_at=float(started),
            log=str(Path(spec.directory) / f"{spec.target}.log"),
        )


# A target names files in the forwards directory: no separators, no dots, no way out of it.
_TARGET = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid_pid(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_PID:
        raise ValueError(f"pid {value!r} is not a process id")
    return value


def _valid_port(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ValueError(f"{what} {value!r} is not a port")
    return value


def _optional_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    return value


def spec_from_json(data: dict[str, Any], directory: Path | None) -> ForwardSpec:
    target = data.get("target")
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ValueError(f"target {target!r} is not a target name")
    services = data.get("services")
    if not isinstance(services, list) or not services or not all(isinstance(x, str) and x for x in services):
        raise ValueError("services is not a list of names")
    for key in ("address", "namespace"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{key} is missing")
    return ForwardSpec(
        target=target,
        address=data["address"],
        port=_valid_port(data.get("port"), "port"),
        namespace=data["namespace"],
        services=list(services),
        remote_port=_valid_port(data.get("remote_port"), "remote_port"),
        context=_optional_str(data.get("context"), "context"),
        kubeconfig=_optional_str(data.get("kubeconfig"), "kubeconfig"),
        directory=str(directory) if directory is not None else str(data.get("directory") or ""),
    )


def forwards_dir(state_dir: Path | None = None) -> Path:
    return (state_dir or paths.state_dir()) / "forwards"


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers never see half a file: write aside, then rename over."""
    paths.ensure(path.parent, "the background forwards' records and logs")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
