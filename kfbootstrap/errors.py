"""The error hierarchy: every failure we expect carries a message, a hint and an exit code.

The CLI's single error boundary (cli/app.py) prints `error: <message>` and
`hint: <hint>`, and exits with the code. Anything that is not a KfbError is a bug
and exits UNEXPECTED with the traceback kept in the log file.
"""

from __future__ import annotations

# Exit codes, documented in docs/exit-codes.md (tests/unit/test_docs_tables.py keeps it complete).
OK = 0
FAILED = 1  # a known failure: a step, a check or a command did not succeed
USAGE = 2  # bad flags, bad config, impossible values
UNEXPECTED = 3  # a bug: traceback in the log, shown with -v
INTERRUPTED = 130  # Ctrl-C
PIPE_CLOSED = 141  # stdout's reader went away (`| head -1`): 128 + SIGPIPE, what other CLIs end with
TERMINATED = 143  # SIGTERM (128 + 15), said as such


class KfbError(Exception):
    """A failure we understand, with a hint telling the user what to do next."""

    exit_code = FAILED

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(KfbError):
    """The configuration (file, environment or flags) is invalid."""

    exit_code = USAGE


class UsageError(KfbError):
    """The command line asks for something impossible."""

    exit_code = USAGE


class ToolMissing(KfbError):
    """An external program we need is not installed."""

    def __init__(self, tool: str, hint: str):
        super().__init__(f"{tool} was not found on PATH", hint=hint)


class CommandFailed(KfbError):
    """An external command exited non-zero; keeps argv, exit code and output for the log."""

    def __init__(self, argv: list[str], exit_code: int, stdout: str, stderr: str, hint: str | None = None):
        self.argv = list(argv)
        self.returncode = exit_code
        self.stdout = stdout
        self.stderr = stderr
        last = _last_line(stderr) or _last_line(stdout) or "no output"
        super().__init__(f"`{' '.join(argv[:3])}` failed (exit {exit_code}): {last}", hint=hint)


class StepFailed(KfbError):
    """A pipeline step failed; wraps the cause with the step's short phrase."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
