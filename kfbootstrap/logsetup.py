"""Logging: everything at debug level to a file under the state directory; to stderr only with -v.

Secret values are never passed to the logger: commands log argv (which never holds a
secret) and exit codes, not their output. Tracebacks go to the file only: the error
boundary (cli/app.py) decides whether one is shown, and shows it once.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

MAX_LOG_BYTES = 5 * 1024 * 1024
_handlers: list[logging.Handler] = []
_configured: tuple[Path, bool] | None = None
# Why the log file could not be opened (None: it is open), for the error boundary's hint.
_unwritable: str | None = None


class _NoTraceback(logging.Formatter):
    """-v shows messages, not the exception's traceback (the boundary prints a bug's once)."""

    def format(self, record: logging.LogRecord) -> str:
        # A copy: the file handler formats the same record and must keep its traceback.
        bare = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(bare)


def setup_logging(verbose: bool) -> Path:
    """Idempotent: re-configures only when the log path or verbosity changed (tests change both)."""
    global _configured
    from kfbootstrap import paths

    path = paths.log_file()
    if _configured == (path, verbose):
        return path
    logger = logging.getLogger("kfbootstrap")
    logger.setLevel(logging.DEBUG)
    # Never reach Python's last-resort handler, which prints tracebacks on stderr.
    logger.propagate = False
    logging.raiseExceptions = False  # a log write failing mid-run (disk full) must not print a traceback either
    for handler in _handlers:
        logger.removeHandler(handler)
        handler.close()
    _handlers.clear()
    _handlers.extend(_file_handler(path) or [logging.NullHandler()])
    if verbose:
        stderr = logging.StreamHandler()
        stderr.setFormatter(_NoTraceback("debug: %(message)s"))
        _handlers.append(stderr)
    for handler in _handlers:
        logger.addHandler(handler)
    _configured = (path, verbose)
    return path


def log_unwritable() -> str | None:
    """Why the log file could not be written, or None when it is being written."""
    return _unwritable


def where_logged() -> str:
    """Where a hint can send the user for the details: the log file, or (when it cannot be written)
    `-v`, which shows the same on stderr."""
    if _unwritable:
        return f"no log file could be written ({_unwritable}): re-run with -v to see them"
    from kfbootstrap import paths

    return str(paths.log_file())


def log_location() -> str:
    """Where the complete table is: the log file, or (when none can be written) nowhere but -v."""
    from kfbootstrap import paths

    unwritable = _unwritable
    if unwritable:
        return f"no log file ({unwritable}; re-run with -v)"
    return str(paths.log_file())


def _file_handler(path: Path) -> list[logging.Handler]:
    global _unwritable
    from kfbootstrap import paths

    try:
        paths.ensure(path.parent)
        # Rotates during a long run too, not only at start: the log never grows past twice the cap.
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_LOG_BYTES, backupCount=1, encoding="utf-8")
    except OSError as exc:
        in_the_way = next((p for p in (path.parent, *path.parents) if p.exists() and not p.is_dir()), None)
        _unwritable = (
            f"{in_the_way} is a file, not a directory"
            if in_the_way
            else f"{exc.strerror or exc}: {exc.filename or path}"
        )
        return []  # an unwritable state dir must not stop the command itself
    _unwritable = None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return [handler]
