"""Which background forwards exist: the records in the state dir, and our daemons found by their command line.

A record can be missing (deleted by hand) or lie (copied, renamed, a pid reused by another
process); a daemon is therefore found by what it is, not only by what a file says.
"""

from __future__ import annotations

import json
from pathlib import Path

from kfbootstrap.access.forward_records import ForwardRecord, ForwardSpec, forwards_dir, read_json, spec_from_json
from kfbootstrap.tools import detached

DAEMON_MODULE = "kfbootstrap.access.daemon"


def read_records(state_dir: Path | None = None) -> list[ForwardRecord]:
    """Every valid record file, plus every live daemon of this directory that has none, sorted by target.

    A record whose file name, fields or pid do not hold up is skipped (see damaged_records);
    a daemon is found by what it is (its command line), not only by what a file says.
    """
    directory = forwards_dir(state_dir)
    records = {}
    for path in _record_files(directory):
        try:
            record = ForwardRecord.from_json(read_json(path), directory)
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
    found = []
    for pid, argument in detached.running_module(DAEMON_MODULE):
        spec = _spec_of(argument)
        if spec is not None and Path(spec.directory) == directory:
            found.append((pid, spec))
    return found


def daemon_spec(pid: int) -> ForwardSpec | None:
    """The spec a running daemon was started with, read from its command line; None if it is not ours."""
    argument = detached.module_argument(pid, DAEMON_MODULE)
    return _spec_of(argument) if argument is not None else None


def _spec_of(argument: bytes) -> ForwardSpec | None:
    try:
        data = json.loads(argument.decode("utf-8"))
        return spec_from_json(
            data, Path(data["directory"]) if isinstance(data, dict) and isinstance(data.get("directory"), str) else None
        )
    except (ValueError, UnicodeDecodeError):
        return None


def find_record(target: str, state_dir: Path | None = None) -> ForwardRecord | None:
    return next((r for r in read_records(state_dir) if r.spec.target == target), None)


def process_alive(pid: int) -> bool:
    """Is `pid` a running forwarder of ours? (Where /proc exists, its command line must name our daemon.)"""
    return detached.runs_module(pid, DAEMON_MODULE)
