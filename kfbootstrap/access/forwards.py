"""Background forwards: start them detached, tell whether they are healthy, stop them.

Each background forward is one detached process (kfbootstrap/access/daemon.py) that
serves one target. It is described by a record file `<target>.json` in
`<state dir>/forwards/` (access/forward_records.py; access/forward_state.py finds them
and our daemons again), and it keeps a heartbeat file `<target>.status.json` up to date
with what it sees (ready pods, connections, last error). Starting, finding and stopping
the process itself is tools/detached.py's. `expose --list`, `status`, `down` and the `up`
step all go through this module.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kfbootstrap import paths
from kfbootstrap.access.forward_records import (
    ForwardRecord,
    ForwardSpec,
    forwards_dir,
    is_number,
    read_json,
    write_json_atomically,
)
from kfbootstrap.access.forward_state import (
    DAEMON_MODULE,
    daemon_spec,
    damaged_records,
    find_record,
    process_alive,
    read_records,
)
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.portforward import PortInUse
from kfbootstrap.tools import detached

# What callers of this module use of the records and the scanning, so they need one import.
__all__ = [
    "DAEMON_MODULE",
    "ForwardRecord",
    "ForwardSpec",
    "Health",
    "daemon_spec",
    "find_record",
    "forwards_dir",
    "health",
    "port_in_use_error",
    "process_alive",
    "read_records",
    "start_background",
    "stop",
    "stop_all",
    "stop_for_context",
    "write_json_atomically",
]

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = 4 * HEARTBEAT_SECONDS
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


@dataclass
class Health:
    """How a background forward is doing: state is running, waiting, stuck or dead."""

    state: str
    detail: str
    ready_pods: list[str] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == "running"


# ---------------------------------------------------------------------- health


def health(record: ForwardRecord, now: float | None = None) -> Health:
    """Judge a forward by its process, its listener and its own heartbeat."""
    now = time.time() if now is None else now
    if not process_alive(record.pid):
        return Health("dead", f"process {record.pid} is gone (see {record.log})")
    status = _valid_status(read_json(record.spec.status_path()))
    if status.get("pid") != record.pid or not 0 <= now - status["heartbeat"] <= STALE_AFTER:
        return Health("stuck", f"no heartbeat for more than {STALE_AFTER:.0f}s (see {record.log})", status=status)
    ready = status["ready_pods"]
    if status.get("list_error"):
        return Health("waiting", f"cannot list pods: {status['list_error']}", ready, status)
    if not ready:
        return Health(
            "waiting", f"no ready pod behind svc/{status.get('service') or record.spec.services[0]}", ready, status
        )
    return Health(
        "running", f"{len(ready)} ready pod{'s' if len(ready) != 1 else ''}: {', '.join(ready[:3])}", ready, status
    )


def _valid_status(data: Any) -> dict[str, Any]:
    """The heartbeat file with every field we use of the type we use it as (anything else: as if absent)."""
    status = dict(data) if isinstance(data, dict) else {}
    beat = status.get("heartbeat")
    status["heartbeat"] = float(beat) if is_number(beat) and math.isfinite(beat) else 0.0
    pods = status.get("ready_pods")
    status["ready_pods"] = [p for p in pods if isinstance(p, str)] if isinstance(pods, list) else []
    for key in ("list_error", "last_error", "service"):
        if key in status and not isinstance(status[key], (str, type(None))):
            status[key] = str(status[key])[:200]
    if not is_number(status.get("connections")):
        status.pop("connections", None)
    return status


# ---------------------------------------------------------------------- ports


def port_in_use_error(address: str, port: int, state_dir: Path | None = None) -> PortInUse:
    """PortInUse naming the holder: one of our forwards (and how to stop it) or another process."""
    for record in read_records(state_dir):
        if record.spec.port == port and process_alive(record.pid):
            return PortInUse(
                address,
                port,
                f"kfbootstrap's background forward for {record.spec.target} (pid {record.pid})",
                hint=f"stop it with `kfbootstrap expose --stop {record.spec.target}`, or use --port",
            )
    from kfbootstrap.host import port_holder

    return PortInUse(address, port, port_holder(port))


def port_free(address: str, port: int) -> bool:
    from kfbootstrap.host import HostProbe

    try:
        return HostProbe().port_free(address, port)
    except OSError:
        return True  # e.g. address not on this machine: the daemon's bind reports it properly


# ---------------------------------------------------------------------- start / stop


def start_background(spec: ForwardSpec, timeout: float = START_TIMEOUT) -> ForwardRecord:
    """Start a detached forwarder and return once it listens; errors carry the daemon's own message.

    The daemon is our own interpreter running kfbootstrap.access.daemon, a
    long-lived child that outlives us (kfbootstrap/tools/detached.py).
    """
    if os.name == "nt":
        raise KfbError(
            "background forwards need Linux or macOS",
            hint=f"run `kfbootstrap expose {spec.target}` in its own terminal, or use WSL2",
        )
    directory = Path(os.path.abspath(spec.directory)) if spec.directory else forwards_dir()
    paths.ensure(directory, "the background forwards' records and logs")
    spec.directory = str(directory)
    spec.kubeconfig = paths.absolute_path_list(spec.kubeconfig)
    if not port_free(spec.address, spec.port):
        raise port_in_use_error(spec.address, spec.port, directory.parent)
    log_path = directory / f"{spec.target}.log"
    with open(log_path, "ab") as log_file:
        proc = detached.start_module(
            DAEMON_MODULE, json.dumps(asdict(spec)), cwd=directory, env=_daemon_env(), log=log_file
        )
    record = ForwardRecord(spec=spec, pid=proc.pid, started_at=time.time(), log=str(log_path))
    write_json_atomically(spec.record_path(), record.to_json())
    try:
        _wait_ready(proc, timeout, log_path)
    except BaseException:
        _terminate(proc.pid)
        with contextlib.suppress(OSError):
            spec.record_path().unlink()
        raise
    return record


def _daemon_env() -> dict[str, str]:
    """Our environment, with this very kfbootstrap first on the path, so the daemon runs the same
    code even from a source checkout that is not installed."""
    import kfbootstrap

    root = str(Path(kfbootstrap.__file__).resolve().parent.parent)
    env = dict(os.environ)
    for var in ("KUBECONFIG", "KFBOOTSTRAP_STATE_DIR", "KFBOOTSTRAP_CACHE_DIR"):  # the daemon's cwd is elsewhere
        if env.get(var):
            env[var] = paths.absolute_path_list(env[var]) or env[var]
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _wait_ready(proc: "detached.Process", timeout: float, log_path: Path) -> None:
    """The daemon writes one JSON line on stdout: {"ok": true} once listening, or its error."""
    line = detached.read_line(proc, timeout)
    if line is None:
        raise KfbError(f"the background forward did not start within {timeout:.0f}s", hint=f"see {log_path}")
    try:
        answer = json.loads(line.decode("utf-8", "replace") or "null")
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("ok"):
        return
    if isinstance(answer, dict) and answer.get("error"):
        raise KfbError(answer["error"], hint=answer.get("hint"), exit_code=answer.get("exit_code"))
    raise KfbError("the background forward exited while starting", hint=f"see {log_path}: {_tail(log_path)}")


def _tail(path: Path, lines: int = 1) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "empty log"
    except OSError:
        return "no log"


def stop(record: ForwardRecord, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop one forward (SIGTERM, then SIGKILL) and remove its record and status files. True if a process was stopped.

    Only a process that is our daemon for this very target is signalled, and only files in
    the directory the record was found in are removed.
    """
    stopped = False
    if _is_daemon_of(record.pid, record.spec):
        stopped = _terminate(record.pid, timeout)
    paths = [record.path] if record.path is not None else []
    if record.path is not None or record.spec.directory:
        directory = record.path.parent if record.path is not None else Path(record.spec.directory)
        paths.append(directory / f"{record.spec.target}.status.json")
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
    return stopped


def _is_daemon_of(pid: int, spec: ForwardSpec) -> bool:
    if not process_alive(pid):
        return False
    running = daemon_spec(pid)
    if running is None:
        return not detached.has_proc()  # no /proc (macOS): process_alive is all we can tell
    return running.target == spec.target and running.directory == spec.directory


def stop_all(state_dir: Path | None = None) -> list[ForwardRecord]:
    """Stop every background forward and remove damaged record files; returns the records stopped."""
    records = read_records(state_dir)
    for record in records:
        stop(record)
    for path in damaged_records(state_dir):
        with contextlib.suppress(OSError):
            path.unlink()
    return records


def stop_for_context(context: str | None, state_dir: Path | None = None) -> list[ForwardRecord]:
    """Stop the background forwards of one kube context only (`down` of one cluster leaves the others')."""
    records = [r for r in read_records(state_dir) if r.spec.context == context]
    for record in records:
        stop(record)
    return records


def _terminate(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    return detached.terminate(pid, DAEMON_MODULE, timeout)
