"""Background forwards: start them detached, find them again, tell whether they are healthy, stop them.

Each background forward is one detached process (kfbootstrap/access/daemon.py) that
serves one target. It is described by a record file `<target>.json` in
`<state dir>/forwards/` (pid, target, address, port, where it forwards to), and it
keeps a heartbeat file `<target>.status.json` up to date with what it sees (ready
pods, connections, last error). `expose --list`, `status`, `down` and the `up` step
all go through this module.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import selectors
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from kfbootstrap import paths
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.portforward import PortInUse
from kfbootstrap.tools.detached import start_module

if TYPE_CHECKING:
    from kfbootstrap.tools.detached import Process

DAEMON_MODULE = "kfbootstrap.access.daemon"
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = 4 * HEARTBEAT_SECONDS
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


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
        if not _is_number(started) or not math.isfinite(started):
            raise ValueError("started_at is not a time")
        return cls(
            spec=spec,
            pid=_valid_pid(data.get("pid")),
            started_at=float(started),
            log=str(Path(spec.directory) / f"{spec.target}.log"),
        )


# A target names files in the forwards directory: no separators, no dots, no way out of it.
_TARGET = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
MAX_PID = 2**22  # Linux's highest pid_max; macOS stays far below


def _is_number(value: Any) -> TypeGuard[int | float]:
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


def forwards_dir(state_dir: Path | None = None) -> Path:
    return (state_dir or paths.state_dir()) / "forwards"


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers never see half a file: write aside, then rename over."""
    paths.ensure(path.parent, "the background forwards' records and logs")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------- reading


def read_records(state_dir: Path | None = None) -> list[ForwardRecord]:
    """Every valid record file, plus every live daemon of this directory that has none, sorted by target.

    A record whose file name, fields or pid do not hold up is skipped (see damaged_records);
    a daemon is found by what it is (its command line), not only by what a file says.
    """
    directory = forwards_dir(state_dir)
    records = {}
    for path in _record_files(directory):
        try:
            record = ForwardRecord.from_json(_read_json(path), directory)
        except ValueError:
            continue
        if path.name != f"{record.spec.target}.json":
            continue  # a copy or a rename: the file name is what a target's record is found by
        record.path = path
        records[record.spec.target] = record
    for pid, spec in live_daemons(directory):
        known = records.get(spec.target)
        if known is None or (known.pid != pid and not process_alive(known.pid)):
            records[spec.target] = ForwardRecord(
                spec, pid, 0.0, str(directory / f"{spec.target}.log"), path=known.path if known else None
            )
    return [records[target] for target in sorted(records)]


def damaged_records(state_dir: Path | None = None) -> list[Path]:
    """Record files in our directory that read_records could not use."""
    directory = forwards_dir(state_dir)
    used = {r.path for r in read_records(state_dir) if r.path is not None}
    return [path for path in _record_files(directory) if path not in used]


def _record_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in sorted(directory.glob("*.json")) if not p.name.endswith(".status.json") and p.is_file()]


def live_daemons(directory: Path) -> list[tuple[int, ForwardSpec]]:
    """Our daemons serving this directory, found in /proc by their command line (empty where there is none)."""
    proc = Path("/proc")
    if not (proc / "self" / "cmdline").exists():
        return []
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and entry.name.isascii():
            spec = daemon_spec(int(entry.name))
            if spec is not None and Path(spec.directory) == directory:
                found.append((int(entry.name), spec))
    return found


def daemon_spec(pid: int) -> ForwardSpec | None:
    """The spec a running daemon was started with, read from its command line; None if it is not ours."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if len(argv) < 4 or argv[1:3] != [b"-m", DAEMON_MODULE.encode()] or _is_zombie(pid):
        return None
    try:
        data = json.loads(argv[3].decode("utf-8"))
        return spec_from_json(
            data, Path(data["directory"]) if isinstance(data, dict) and isinstance(data.get("directory"), str) else None
        )
    except (ValueError, UnicodeDecodeError):
        return None


def find_record(target: str, state_dir: Path | None = None) -> ForwardRecord | None:
    return next((r for r in read_records(state_dir) if r.spec.target == target), None)


def process_alive(pid: int) -> bool:
    """Is `pid` a running forwarder of ours? (Where /proc exists, its command line must name our daemon.)"""
    if not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not ours
    if Path("/proc/self/cmdline").exists():
        try:
            text = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if DAEMON_MODULE.encode() not in text:
            return False  # the pid was reused by an unrelated process
        return not _is_zombie(pid)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def health(record: ForwardRecord, now: float | None = None) -> Health:
    """Judge a forward by its process, its listener and its own heartbeat."""
    now = time.time() if now is None else now
    if not process_alive(record.pid):
        return Health("dead", f"process {record.pid} is gone (see {record.log})")
    status = _valid_status(_read_json(record.spec.status_path()))
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
    status["heartbeat"] = float(beat) if _is_number(beat) and math.isfinite(beat) else 0.0
    pods = status.get("ready_pods")
    status["ready_pods"] = [p for p in pods if isinstance(p, str)] if isinstance(pods, list) else []
    for key in ("list_error", "last_error", "service"):
        if key in status and not isinstance(status[key], (str, type(None))):
            status[key] = str(status[key])[:200]
    if not _is_number(status.get("connections")):
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
        proc = start_module(DAEMON_MODULE, json.dumps(asdict(spec)), cwd=directory, env=_daemon_env(), log=log_file)
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


def _wait_ready(proc: "Process", timeout: float, log_path: Path) -> None:
    """The daemon writes one JSON line on stdout: {"ok": true} once listening, or its error."""
    assert proc.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise KfbError(f"the background forward did not start within {timeout:.0f}s", hint=f"see {log_path}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    proc.stdout.close()
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
        return not Path("/proc/self/cmdline").exists()  # no /proc (macOS): process_alive is all we can tell
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
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the daemon is our own child (started in this process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
