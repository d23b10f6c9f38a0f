"""The background forwards `stop` ended, remembered so `start` (or `up`) serves them again on the same ports."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

from kfbootstrap.access import forwards
from kfbootstrap.access.forward_records import spec_from_json
from kfbootstrap.errors import KfbError

FILE = "stopped-forwards.json"


def kept_file(cluster_dir: Path) -> Path:
    return cluster_dir / FILE


def read_kept(path: Path) -> list[forwards.ForwardSpec]:
    """The remembered forwards; a damaged entry (or file) is dropped, never fatal."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("forwards")
    except (OSError, ValueError, AttributeError):
        return []
    kept = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            kept.append(spec_from_json(entry, Path(entry.get("directory") or forwards.forwards_dir())))
        except (ValueError, AttributeError):
            continue
    return kept


def stop_and_keep(context: str | None, path: Path) -> list[forwards.ForwardRecord]:
    """Write the forwards of this context down (added to what an interrupted stop kept), then stop them."""
    records = [r for r in forwards.read_records() if r.spec.context == context]
    if records:
        by_target = {spec.target: spec for spec in read_kept(path)}
        by_target.update({r.spec.target: r.spec for r in records})
        forwards.write_json_atomically(path, {"forwards": [asdict(spec) for spec in by_target.values()]})
    return forwards.stop_for_context(context)


def restore(path: Path) -> tuple[list[str], list[str]]:
    """Start every remembered forward not already running as it was; (started, failed with why). The file goes
    once every forward is back, so a failed one is tried again by the next `start`."""
    started, failed = [], []
    for spec in read_kept(path):
        running = forwards.find_record(spec.target)
        if running is not None and forwards.process_alive(running.pid) and running.spec.port == spec.port:
            continue
        try:
            forwards.start_background(spec)
            started.append(f"{spec.target} on {spec.address}:{spec.port}")
        except KfbError as exc:
            failed.append(f"{spec.target} on {spec.address}:{spec.port}: {exc.message}")
    if not failed:
        with contextlib.suppress(OSError):
            path.unlink()
    return started, failed
