"""Run the CLI in-process through its real error boundary and capture what a user would see."""

from __future__ import annotations

from dataclasses import dataclass

from kfbootstrap.cli.app import invoke


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(capsys, *args: str) -> CliResult:
    capsys.readouterr()
    code = invoke([str(a) for a in args])
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
