"""Logging: everything at debug level to a file under the state directory; to stderr only with -v.

Secret values are never passed to the logger: commands log argv (which never holds a
secret) and exit codes, not their output.
"""

from __future__ import annotations

import logging
from pathlib import Path

MAX_LOG_BYTES = 5 * 1024 * 1024
_handlers: list[logging.Handler] = []
_configured: tuple[Path, bool] | None = None


def setup_logging(verbose: bool) -> Path:
    """Idempotent: re-configures only when the log path or verbosity changed (tests change both)."""
    global _configured
    from kfbootstrap import paths

    path = paths.log_file()
    if _configured == (path, verbose):
        return path
    logger = logging.getLogger("kfbootstrap")
    logger.setLevel(logging.DEBUG)
    for handler in _handlers:
        logger.removeHandler(handler)
        handler.close()
    _handlers.clear()
    _handlers.extend(_file_handler(path))
    if verbose:
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("debug: %(message)s"))
        _handlers.append(stderr)
    for handler in _handlers:
        logger.addHandler(handler)
    _configured = (path, verbose)
    return path


def _file_handler(path: Path) -> list[logging.Handler]:
    from kfbootstrap import paths

    try:
        paths.ensure(path.parent)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            path.replace(path.with_suffix(".log.1"))
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return []  # an unwritable state dir must not stop the command itself
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return [handler]
