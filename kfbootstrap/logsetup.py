"""Logging: everything at debug level to a file under the state directory; to stderr only with -v.

Secret values are never passed to the logger: commands log argv (which never holds a
secret) and exit codes, not their output.
"""

from __future__ import annotations

import logging
from pathlib import Path

MAX_LOG_BYTES = 5 * 1024 * 1024
_configured: Path | None = None


def setup_logging(verbose: bool) -> Path:
    global _configured
    from kfbootstrap import paths

    path = paths.log_file()
    if _configured == path:
        return path
    logger = logging.getLogger("kfbootstrap")
    logger.setLevel(logging.DEBUG)
    try:
        paths.ensure(path.parent)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            path.replace(path.with_suffix(".log.1"))
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    except OSError:
        pass  # an unwritable state dir must not stop the command itself
    if verbose:
        stderr = logging.StreamHandler()
        stderr.setLevel(logging.DEBUG)
        stderr.setFormatter(logging.Formatter("debug: %(message)s"))
        logger.addHandler(stderr)
    _configured = path
    return path
