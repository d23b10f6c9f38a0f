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
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kfbootstrap import paths
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.portforward import PortInUse

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
    """A started background forward, as stored in `<target>.json`."""

    spec: ForwardSpec
    pid: int
    started_at: float
    log: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.spec), "pid": self.pid, "started_at": self.started_at, "log": self.log}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ForwardRecord":
        spec_keys = ForwardSpec.__dataclass_fields__.keys()
        spec = ForwardSpec(**{k: data[k] for k in spec_keys if k in data})
        return cls(spec=spec, pid=int(data["pid"]), started_at=float(data.get("started_at", 0)),
                   log=str(data.get("log", "")))


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
    path.parent.mkdir(parents=True, exist_ok=True)
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
    """Every record file, sorted by target; unreadable files are skipped (and left for inspection)."""
    directory = forwards_dir(state_dir)
    records = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.name.endswith(".status.json"):
            continue
        data = _read_json(path)
        if data is None:
            continue
        try:
            records.append(ForwardRecord.from_json(data))
        except (KeyError, TypeError, ValueError):
            continue
    return records


def find_record(target: str, state_dir: Path | None = None) -> ForwardRecord | None:
    return next((r for r in read_records(state_dir) if r.spec.target == target), None)


def process_alive(pid: int) -> bool:
    """Is `pid` a running forwarder of ours? (Where /proc exists, its command line must name our daemon.)"""
    if pid <= 0:
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
    status = _read_json(record.spec.status_path()) or {}
    if status.get("pid") != record.pid or now - float(status.get("heartbeat", 0)) > STALE_AFTER:
        return Health("stuck", f"no heartbeat for more than {STALE_AFTER:.0f}s (see {record.log})", status=status)
    ready = list(status.get("ready_pods") or [])
    if status.get("list_error"):
        return Health("waiting", f"cannot list pods: {status['list_error']}", ready, status)
    if not ready:
        return Health("waiting", f"no ready pod behind svc/{status.get('service') or record.spec.services[0]}",
                      ready, status)
    return Health("running", f"{len(ready)} ready pod{'s' if len(ready) != 1 else ''}: {', '.join(ready[:3])}",
                  ready, status)


# ---------------------------------------------------------------------- ports

def port_in_use_error(address: str, port: int, state_dir: Path | None = None) -> PortInUse:
    """PortInUse naming the holder: one of our forwards (and how to stop it) or another process."""
    for record in read_records(state_dir):
        if record.spec.port == port and process_alive(record.pid):
            return PortInUse(address, port, f"kfbootstrap's background forward for {record.spec.target} "
                                            f"(pid {record.pid})",
                             hint=f"stop it with `kfbootstrap expose --stop {record.spec.target}`, or use --port")
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

    The daemon is our own interpreter running kfbootstrap.access.daemon, started
    with subprocess directly (not tools.runner): the runner runs external tools to
    completion, while this is a long-lived child of ours that must outlive us, in
    its own session so Ctrl-C or closing the terminal does not reach it.
    """
    if os.name == "nt":
        raise KfbError("background forwards need Linux or macOS",
                       hint=f"run `kfbootstrap expose {spec.target}` in its own terminal, or use WSL2")
    directory = Path(spec.directory) if spec.directory else forwards_dir()
    directory.mkdir(parents=True, exist_ok=True)
    spec.directory = str(directory)
    if not port_free(spec.address, spec.port):
        raise port_in_use_error(spec.address, spec.port, directory.parent)
    log_path = directory / f"{spec.target}.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", DAEMON_MODULE, json.dumps(asdict(spec))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
            start_new_session=True, close_fds=True, cwd=str(directory), env=_daemon_env(),
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
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _wait_ready(proc: subprocess.Popen, timeout: float, log_path: Path) -> None:
    """The daemon writes one JSON line on stdout: {"ok": true} once listening, or its error."""
    assert proc.stdout is not None
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise KfbError(f"the background forward did not start within {timeout:.0f}s",
                               hint=f"see {log_path}")
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
    """Stop one forward (SIGTERM, then SIGKILL) and remove its files. True if a process was stopped."""
    stopped = False
    if process_alive(record.pid):
        stopped = _terminate(record.pid, timeout)
    for path in (record.spec.record_path(), record.spec.status_path()):
        with contextlib.suppress(OSError):
            path.unlink()
    return stopped


def stop_all(state_dir: Path | None = None) -> list[ForwardRecord]:
    """Stop every background forward; returns the records that were found."""
    records = read_records(state_dir)
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
