"""The one place that writes to the terminal.

Progress goes to stderr, results (tables, JSON, URLs) to stdout, so `--json` output
can be piped. On a terminal long steps show a spinner; in CI or a pipe we print
plain lines instead, one when a step starts and one when it ends.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from rich.console import Console, Group, RenderableType

if TYPE_CHECKING:
    from rich.status import Status

OK_MARK = "✓"
FAIL_MARK = "✗"
SKIP_MARK = "·"


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def interactive() -> bool:
    """Live displays (spinners, progress bars) only on a terminal; CI logs get plain lines."""
    return _interactive()


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich's own answer (stdout to /dev/null, then exit 1) would hide that the pipe closed; the CLI's
        error boundary ends such a run quietly with 141, as other CLIs do."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


err = _Console(stderr=True, highlight=False, soft_wrap=True)
out = _Console(highlight=False, soft_wrap=True)


def info(message: str) -> None:
    err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}")


def format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class StepLine:
    """One status line for one step: spinner (or a plain 'start' line), then ✓/✗ with elapsed time."""

    def __init__(self, title: str):
        self.title = title
        self.started = time.monotonic()
        self._status: Status | None = None

    def update(self, detail: str | RenderableType) -> None:
        """Show live progress (e.g. '312/675 objects', or a rich table); only on a terminal, to keep CI logs short."""
        if self._status is not None:
            if isinstance(detail, str):
                self._status.update(f"{self.title} [dim]{detail}[/]")
            else:
                self._status.update(Group(self.title, detail))

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# The line of the step that is running, so code inside Step.run can report progress.
_current: StepLine | None = None
_last_plain = 0.0
PLAIN_PROGRESS_EVERY = 60.0


@contextmanager
def step_line(title: str) -> Iterator[StepLine]:
    global _current
    line = StepLine(title)
    _current = line
    try:
        if _interactive():
            with err.status(title) as status:
                line._status = status
                try:
                    yield line
                finally:
                    line._status = None
        else:
            err.print(f"  … {title}")
            yield line
    finally:
        _current = None


def step_progress(detail: str | RenderableType, plain: str | None = None) -> None:
    """Live progress of the running step: on a terminal `detail` (text or a rich renderable)
    replaces the spinner's text; elsewhere `plain`, if given, is printed at most once a
    minute, so CI logs show headway without a line per change."""
    global _last_plain
    if _current is None:
        return
    if _interactive():
        _current.update(detail)
    elif plain is not None and time.monotonic() - _last_plain >= PLAIN_PROGRESS_EVERY:
        _last_plain = time.monotonic()
        err.print(f"    {plain}")


def step_done(title: str, elapsed: float, note: str = "") -> None:
    err.print(f"[green]{OK_MARK}[/] {title} [dim]({format_elapsed(elapsed)}{', ' + note if note else ''})[/]")


def step_skipped(title: str, why: str) -> None:
    err.print(f"[dim]{SKIP_MARK} {title} ({why})[/]")


def step_failed(title: str, elapsed: float) -> None:
    err.print(f"[red]{FAIL_MARK}[/] {title} [dim]({format_elapsed(elapsed)})[/]")


def print_wide(renderable: RenderableType, width: int = 160, console: Console | None = None) -> None:
    """Print a table to `console` (stderr by default); off a terminal (CI logs) rich assumes 80
    columns, so use `width` instead and keep whole names in cells."""
    console = console or err
    if console.is_terminal:
        console.print(renderable)
    else:
        Console(file=console.file, width=width, highlight=False, soft_wrap=False).print(renderable)


def shorten(text: str, limit: int) -> str:
    """Its start (which pod, which object) and its end (the error at the bottom), within `limit` characters."""
    if len(text) <= limit:
        return text
    head = text[: limit // 3].rsplit(" ", 1)[0]
    tail = text[-(limit - len(head)) :].split(" ", 1)[-1]
    return f"{head} … {tail}"
