"""The typer application and its single error boundary.

Known errors (KfbError) print `error: …` and `hint: …` and exit with their code;
usage errors exit 2; Ctrl-C exits 130; anything else is a bug: exit 3, the traceback
goes to the log file and is shown only with -v.
"""

from __future__ import annotations

import sys

import typer

from kfbootstrap import __version__
from kfbootstrap.cli import (
    cache,
    config_cmd,
    creds,
    diagnose,
    doctor,
    down,
    expose,
    images,
    passwd,
    render,
    serve,
    smoke,
    start,
    status,
    stop,
    up,
)

app = typer.Typer(
    name="kfbootstrap",
    help="Stand up a complete local Kubeflow platform on Kind, and reach it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_verbose = False


@app.callback()
def _global(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug output and tracebacks.")) -> None:
    global _verbose
    _verbose = verbose
    from kfbootstrap.logsetup import setup_logging

    setup_logging(verbose)


for module in (
    up,
    down,
    stop,
    start,
    status,
    expose,
    serve,
    creds,
    passwd,
    doctor,
    render,
    smoke,
    diagnose,
    images,
    cache,
    config_cmd,
):
    module.register(app)


@app.command("version")
def version() -> None:
    """Print the kfbootstrap version."""
    typer.echo(f"kfbootstrap {__version__}")


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the app inside the error boundary and exit with the documented code."""
    import signal

    def terminated(signum, frame):
        global _terminated
        _terminated = True  # typer reports the interrupt only as exit code 130: remember which it was
        raise Terminated()

    signal.signal(signal.SIGTERM, terminated)
    sys.exit(invoke(argv))


_argv: list[str] | None = None
_terminated = False


def invoke(argv: list[str] | None = None) -> int:
    global _argv
    from typer.exceptions import TyperException

    from kfbootstrap import errors

    _argv = argv
    outputs = _output_files()
    try:
        # Not standalone: typer hands us usage errors, exits and Ctrl-C (as Abort) to decide on here.
        result = app(args=argv, prog_name="kfbootstrap", standalone_mode=False)
        code = result if isinstance(result, int) else errors.OK
    except typer.Exit as exc:
        code = exc.exit_code
    except TyperException as exc:  # bad flags or arguments: typer's click errors show themselves
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {exc.format_message()}", file=sys.stderr)
        return getattr(exc, "exit_code", errors.USAGE) or errors.USAGE
    except SystemExit as exc:  # typer's answer to EPIPE: exit 1, the error gone
        if _closed_outputs(outputs):
            return _quietly_closed(_closed_outputs(outputs))
        _print_error(
            f"broken pipe (exit {exc.code}): a program or connection kfbootstrap was writing to went away",
            "re-run with -v to see where; if it keeps happening, please report it",
        )
        return errors.FAILED
    except BrokenPipeError:  # stdout or stderr closed outside typer's own handling
        if _closed_outputs(outputs):
            return _quietly_closed(_closed_outputs(outputs))
        raise
    except (KeyboardInterrupt, typer.Abort) as exc:
        terminated = isinstance(exc, Terminated) or _terminated
        _print_interrupted(terminated)
        return errors.TERMINATED if terminated else errors.INTERRUPTED
    except errors.KfbError as exc:
        _log_exception(exc)
        _print_error(exc.message, exc.hint)
        return exc.exit_code
    except OSError as exc:  # the machine refused (disk full, permissions, a path in the way): not our bug
        _log_exception(exc)
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        hint = "check the path, its permissions and the free disk space"
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            hint = "a file stands where kfbootstrap makes a directory: move it away or remove it, then re-run"
        _print_error(f"{exc.strerror or exc}{where}", hint)
        return errors.FAILED
    except Exception as exc:  # the one place a bug is caught: keep the traceback for the report
        log_path = _log_exception(exc)
        if _verbose:
            import traceback

            traceback.print_exc()
        _print_error(f"unexpected {type(exc).__name__}: {exc}", _bug_hint(log_path))
        return errors.UNEXPECTED
    if code == errors.INTERRUPTED:  # typer turns Ctrl-C (and our SIGTERM interrupt) inside a command into 130
        _print_interrupted(_terminated)
        return errors.TERMINATED if _terminated else code
    return code


# What re-running an interrupted command does; only `up` (and `images pull`) resume where they stopped.
_AFTER_INTERRUPT = {
    "up": "re-run `kfbootstrap up`: finished steps are skipped and the rest resumes",
    "images": "re-run the same command: images already pulled are skipped",
    "start": "re-run `kfbootstrap start` (or `up`): it starts what is still stopped and continues",
    "stop": "re-run `kfbootstrap stop` to stop what still runs, or `kfbootstrap start` to bring all back",
    "expose": "the forward stopped; `kfbootstrap expose TARGET --background` keeps one running without a terminal",
}
MAX_SHOWN = 600  # characters of a message or hint: a bad 50 MB value is not echoed whole


def _output_files() -> dict[int, tuple[int, int]]:
    """What our stdout and stderr descriptors are (device, inode), to notice one replaced under us."""
    import os

    found = {}
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            fd = stream.fileno()  # type: ignore[union-attr]
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):  # no such stream, or not a descriptor (tests)
            continue
        found[fd] = (info.st_dev, info.st_ino)
    return found


def _closed_outputs(before: dict[int, tuple[int, int]]) -> list[int]:
    """Our output descriptors whose reader has gone away (`kfbootstrap status | head -1`).

    typer (on EPIPE) and rich leave only exit 1 behind, so ask the descriptors: the write end of a
    pipe whose reader closed reports an error to poll(); rich (typer's help) points stdout at /dev/null
    before it exits, so a descriptor that is no longer the file it was tells the same."""
    import os
    import select

    closed = []
    for fd, identity in before.items():
        try:
            info = os.fstat(fd)
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            broken = any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
        except (OSError, ValueError, AttributeError):  # closed meanwhile, or no poll() here
            continue
        if broken or (info.st_dev, info.st_ino) != identity:
            closed.append(fd)
    return closed


def _quietly_closed(closed: list[int]) -> int:
    """End like other CLIs killed by SIGPIPE: nothing more on the closed pipe, no message, exit 141.

    What is left in our buffers, and Python's last flush at exit, go to /dev/null instead of failing."""
    import os

    from kfbootstrap import errors

    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in closed:
        os.dup2(devnull, fd)
    os.close(devnull)
    return errors.PIPE_CLOSED


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the same cleanup runs (finally blocks, forwards closed)."""


def _print_interrupted(terminated: bool = False) -> None:
    command = _command_of(_argv)
    what = "terminated (SIGTERM)" if terminated else "interrupted"
    _print_error(
        what, _AFTER_INTERRUPT.get(command, f"re-run `kfbootstrap {command}` to do it again" if command else None)
    )


def _command_of(argv: list[str] | None) -> str:
    words = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("-")]
    return words[0] if words else ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}… ({len(text) - MAX_SHOWN} more characters)"


def _print_error(message: str, hint: str | None) -> None:
    typer.echo(f"error: {_cut(message)}", err=True)
    if hint:
        typer.echo(f"hint: {_cut(hint)}", err=True)


def _bug_hint(log_path: str) -> str:
    from kfbootstrap.logsetup import log_unwritable

    unwritable = log_unwritable()
    if unwritable:  # never point at a log that does not exist
        return f"this is a bug in kfbootstrap; no log could be written ({unwritable})" + (
            "" if _verbose else "; re-run with -v for the traceback"
        )
    return f"this is a bug in kfbootstrap; details in {log_path}" + ("" if _verbose else " (or re-run with -v)")


def _log_exception(exc: BaseException) -> str:
    import logging

    from kfbootstrap.logsetup import setup_logging

    try:
        path = setup_logging(_verbose)
    except Exception:  # noqa: BLE001 - e.g. $HOME unset: the error itself must still be shown
        return "(no log)"
    logging.getLogger("kfbootstrap").error("%s", exc, exc_info=exc)
    return str(path)
