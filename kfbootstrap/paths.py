"""Where kfbootstrap keeps its state, caches and log (never inside the user's project)."""

from __future__ import annotations

import os
from pathlib import Path

from kfbootstrap.errors import KfbError


def _absolute(value: str) -> Path:
    """A directory from the environment, made absolute now: background forwards run elsewhere (their cwd
    is the forwards directory), so a relative path would name another place for them."""
    return Path(os.path.abspath(os.path.expanduser(value)))


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return _absolute(value) if value else Path.home() / fallback


def state_dir() -> Path:
    """Per-user state: run markers, background forward records, the log file."""
    override = os.environ.get("KFBOOTSTRAP_STATE_DIR")
    return _absolute(override) if override else _xdg("XDG_STATE_HOME", ".local/state") / "kfbootstrap"


def cache_dir() -> Path:
    """Re-creatable downloads and renders (manifest checkouts, chart archives)."""
    override = os.environ.get("KFBOOTSTRAP_CACHE_DIR")
    return _absolute(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / "kfbootstrap"


def absolute_path_list(value: str | None) -> str | None:
    """$KUBECONFIG-style list (os.pathsep-separated) with every entry made absolute."""
    if not value:
        return None
    return os.pathsep.join(str(_absolute(part)) for part in value.split(os.pathsep) if part) or None


def log_file() -> Path:
    return state_dir() / "kfbootstrap.log"


class InTheWay(KfbError, NotADirectoryError):
    """A file stands where kfbootstrap keeps a directory (an OSError too, for callers that catch those)."""


def ensure(path: Path, what: str = "") -> Path:
    """Create the directory (and its parents); a file in the way is named, with what to do about it.

    `what` says what kfbootstrap keeps there, for the message."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        kept = f"{what} ({path})" if what and blocker != path else what or f"the directory {path}"
        raise InTheWay(
            f"{blocker} is a file, but kfbootstrap keeps {kept} there",
            hint=f"move it away (`mv {blocker} {blocker}.old`) or remove it, then re-run",
        ) from None
    return path


def output_dir(path: Path, flag: str = "--out") -> Path:
    """Create the directory a command writes its results into, or say plainly why it cannot be one."""
    from kfbootstrap.errors import KfbError, UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{flag} {path} is a file, not a directory", hint=f"give {flag} a directory (it is created if missing)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KfbError(
            f"cannot create {flag} directory {path}: {exc.strerror}", hint="choose a directory you can write to"
        ) from None
    return path
