"""One runner for every external command, so errors look alike and tests can record argv.

Built on `sh`. Tests swap the Runner for a fake that records argv and returns
scripted results (tests/fakes.py); nothing else in the product calls subprocesses.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

from kfbootstrap.errors import CommandFailed, KfbError, ToolMissing

log = logging.getLogger("kfbootstrap.runner")

# Seconds any program may run when its caller names no deadline of its own: nothing we run may hang
# forever (a helm or kubectl against an API server that accepts and never answers would).
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Runner(Protocol):
    """What the product needs from a command runner."""

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result: ...

    def which(self, program: str) -> str | None: ...


# How to install each tool we shell out to, for the ToolMissing hint.
INSTALL_HINTS = {
    "kind": "install kind v0.27+ (v0.32 tested): https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/",
    "helm": "install helm v3.12+ or v4: https://helm.sh/docs/intro/install/",
    "docker": "install Docker and start it: https://docs.docker.com/get-docker/",
    "kustomize": "kubectl has kustomize built in; or install kustomize v5",
}


class ShRunner:
    """The real runner. Never raises sh's exceptions: they become CommandFailed / ToolMissing.

    Every program gets a deadline (its caller's `timeout`, else DEFAULT_TIMEOUT), and is killed
    when it passes."""

    def which(self, program: str) -> str | None:
        return shutil.which(program)

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        import sh

        argv = [str(a) for a in argv]
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        if self.which(argv[0]) is None:
            raise ToolMissing(argv[0], INSTALL_HINTS.get(argv[0], f"install {argv[0]}"))
        log.debug("run: %s", " ".join(argv))
        kwargs: dict = {"_in": input, "_timeout": timeout, "_return_cmd": True}
        if env is not None:
            kwargs["_env"] = dict(env)
        if on_line is not None:
            kwargs["_err"] = lambda line: on_line(line.rstrip("\n"))
        try:
            cmd = sh.Command(argv[0])(*argv[1:], **kwargs)
            result = Result(tuple(argv), cmd.exit_code, _text(cmd.stdout), _text(cmd.stderr))
        except sh.ErrorReturnCode as exc:
            result = Result(tuple(argv), exc.exit_code, _text(exc.stdout), _text(exc.stderr))
        except sh.TimeoutException:
            raise KfbError(
                f"`{' '.join(argv[:3])}` did not finish within {timeout:.0f}s",
                hint="the program may be stuck; re-run with -v and check the log",
            ) from None
        log.debug("exit %s: %s", result.exit_code, " ".join(argv))
        if check and not result.ok:
            raise CommandFailed(argv, result.exit_code, result.stdout, result.stderr)
        return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
