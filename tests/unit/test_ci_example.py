"""The example nightly workflow: lint-clean YAML, the right shape, and every kfbootstrap
command in it exists with exactly the flags it uses."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer
import yaml

from kfbootstrap.cli.app import app
from kfbootstrap.durations import parse_duration
from kfbootstrap.errors import UsageError
from tests.cli_helpers import run_cli

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "nightly.yaml"
LINT_CONFIG = """
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  truthy: {allowed-values: ["true", "false"], check-keys: true}
"""


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict]:
    return workflow()["jobs"]["smoke"]["steps"]


def kfbootstrap_commands() -> list[list[str]]:
    """argv (without the program name) of every `kfbootstrap …` line in a `run:` block."""
    found = []
    for step in steps():
        for line in str(step.get("run", "")).splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "kfbootstrap":
                found.append(words[1:])
    return found


def step_running(command: str) -> dict:
    return next(s for s in steps() if str(s.get("run", "")).startswith(f"kfbootstrap {command}"))


def test_workflow_passes_yamllint():
    linter = pytest.importorskip("yamllint.linter", reason="yamllint is in the `test` extra")
    from yamllint.config import YamlLintConfig

    problems = list(linter.run(WORKFLOW.read_text(), YamlLintConfig(LINT_CONFIG), str(WORKFLOW)))
    assert [f"{p.line}:{p.column} {p.message}" for p in problems] == []


def test_workflow_shape():
    flow = workflow()
    assert set(flow["on"]) == {"schedule", "workflow_dispatch"}
    job = flow["jobs"]["smoke"]
    assert job["timeout-minutes"] > 60
    assert all("uses" in s or "run" in s for s in job["steps"])
    assert [c[0] for c in kfbootstrap_commands()] == ["doctor", "up", "smoke", "diagnose", "down"]
    assert "--profile ci" in step_running("up")["run"]
    assert "--junit" in step_running("smoke")["run"]
    assert step_running("diagnose")["if"] == "failure()"
    teardown = job["steps"][-1]
    assert teardown["run"] == "kfbootstrap down" and teardown["if"] == "always()"
    # The bundle diagnose writes is what the failure-only upload picks up.
    out_dir = shlex.split(step_running("diagnose")["run"])[3]
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert any(s.get("if") == "failure()" and s["with"]["path"].startswith(out_dir + "/") for s in uploads)
    junit = shlex.split(step_running("smoke")["run"])[3]
    assert any(s.get("if") == "always()" and s["with"]["path"] == junit for s in uploads)


def test_workflow_environment_is_valid_config(tmp_path):
    from kfbootstrap.config import load_config

    env = {k: str(v) for k, v in workflow()["jobs"]["smoke"]["env"].items()}
    assert env["KFBOOTSTRAP_PROFILE"] == "ci"
    assert load_config(env=env, cwd=tmp_path).config.profile == "ci"


@pytest.mark.parametrize("argv", kfbootstrap_commands(), ids=lambda argv: " ".join(argv))
def test_every_command_in_the_workflow_exists_with_its_flags(argv, capsys):
    group = typer.main.get_command(app)
    command = group.commands.get(argv[0])
    assert command is not None, f"`kfbootstrap {argv[0]}` does not exist"
    # Click parses (and type-checks) the exact arguments without running the command.
    command.make_context(argv[0], list(argv[1:]), resilient_parsing=False)
    help_text = run_cli(capsys, argv[0], "--help").out
    for flag in (word for word in argv[1:] if word.startswith("--")):
        assert flag in help_text, f"{flag} missing from `kfbootstrap {argv[0]} --help`"


def test_the_up_line_of_the_workflow_is_a_valid_plan(capsys, monkeypatch):
    seen = {}

    def build_steps(config):
        seen["config"] = config
        return []

    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", build_steps)
    argv = next(c for c in kfbootstrap_commands() if c[0] == "up")
    result = run_cli(capsys, *argv, "--dry-run")
    assert result.code == 0, result.text
    assert seen["config"].profile == "ci"
    assert seen["config"].timeouts.ready == 3600  # --timeout 60m


@pytest.mark.parametrize("text,seconds", [("3600", 3600), ("90s", 90), ("45m", 2700), ("1h30m", 5400), ("2H", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0m", "45 minutes", "1.5h", "m45", "-5m"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(UsageError) as caught:
        parse_duration(text)
    assert caught.value.message.startswith("--timeout")


def test_bad_up_timeout_is_a_usage_error(capsys):
    result = run_cli(capsys, "up", "--timeout", "soon", "--dry-run")
    assert result.code == 2
    assert "error: --timeout 'soon' is not a duration" in result.err
