"""CLI wiring through the real error boundary: exit codes, messages, light startup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kfbootstrap import errors
from tests.cli_helpers import run_cli

COMMANDS = ["up", "down", "status", "expose", "creds", "doctor", "render", "smoke", "diagnose", "version", "config"]


def test_help_lists_every_command(capsys):
    result = run_cli(capsys, "--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "config"])
def test_every_command_has_help_and_accepts_config(command, capsys):
    result = run_cli(capsys, command, "--help")
    assert result.code == 0
    if command != "version":
        assert "--config" in result.out


def test_version(capsys):
    from kfbootstrap import __version__

    result = run_cli(capsys, "version")
    assert (result.code, result.out.strip()) == (0, f"kfbootstrap {__version__}")


def test_unknown_command_is_a_usage_error(capsys):
    result = run_cli(capsys, "upp")
    assert result.code == errors.USAGE
    assert "No such command" in result.err and "Traceback" not in result.text


def test_dry_run_prints_the_plan_and_touches_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def no_runner():
        raise AssertionError("dry run must not run commands")

    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", no_runner)
    result = run_cli(capsys, "up", "--dry-run", "--profile", "minimal")
    assert result.code == 0, result.text
    assert "1. Preflight checks" in result.out and "Create the Kind cluster" in result.out
    assert "Install Grafana" not in result.out  # minimal profile switches it off


def test_unexpected_error_exits_3_with_log_and_no_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", boom)
    result = run_cli(capsys, "up")
    assert result.code == errors.UNEXPECTED
    assert "error: unexpected RuntimeError: kaboom" in result.err
    assert "this is a bug in kfbootstrap; details in" in result.err
    assert "Traceback" not in result.text
    from kfbootstrap import paths

    assert "Traceback" in paths.log_file().read_text()


def test_verbose_shows_the_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", lambda config: 1 / 0)
    result = run_cli(capsys, "-v", "up")
    assert result.code == errors.UNEXPECTED
    assert "Traceback" in result.err and "ZeroDivisionError" in result.err


def test_ctrl_c_exits_130_with_resume_hint(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def interrupted(steps, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr("kfbootstrap.pipeline.run_steps", interrupted)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: None)
    result = run_cli(capsys, "up")
    assert result.code == errors.INTERRUPTED
    assert "error: interrupted" in result.err and "re-run" in result.err


def test_known_error_never_logs_to_stdout(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "config", "show", "--config", "nope.yaml")
    assert result.out == "" and result.err.startswith("error: config file nope.yaml not found")


def test_startup_imports_nothing_heavy():
    """`--help` must not import the kubernetes client, pyhelm3 or sh (see bench/startup.py for timings)."""
    probe = (
        "import sys\n"
        "from kfbootstrap.cli.app import invoke\n"
        "for argv in (['--help'], ['creds', '--help'], ['up', '--help']):\n"
        "    invoke(argv)\n"
        "heavy = sorted(m for m in ('kubernetes', 'pyhelm3', 'sh', 'yaml', 'kfbootstrap.config') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert output.strip().splitlines()[-1] == "HEAVY="


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "kfbootstrap", "version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("kfbootstrap ")


@pytest.mark.parametrize("command", ["render", "diagnose"])
def test_out_that_is_a_file_is_a_usage_error(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    in_the_way = tmp_path / "taken"
    in_the_way.write_text("x")
    result = run_cli(capsys, command, "--out", in_the_way)
    assert result.code == errors.USAGE, result.text
    assert f"error: --out {in_the_way} is a file, not a directory" in result.err
    assert "Traceback" not in result.text


def test_filesystem_refusal_is_a_known_failure_not_a_bug(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/root/forbidden")

    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", refuse)
    result = run_cli(capsys, "up")
    assert result.code == errors.FAILED
    assert "error: Permission denied: /root/forbidden" in result.err
    assert "bug" not in result.err


# ------------------------------------------------------------ a state dir or log we cannot write


def _state_dir_is_a_file(monkeypatch, tmp_path):
    blocker = tmp_path / "state-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", str(blocker))
    return blocker


@pytest.mark.parametrize(
    "argv, code",
    [
        (["config", "show", "--config", "missing.yaml"], errors.USAGE),  # a known error
        (["up", "--no-such-flag"], errors.USAGE),  # a usage error typer reports
        (["status", "--context", "no-such-context"], errors.FAILED),  # fails on the kubeconfig
    ],
)
def test_state_dir_that_is_a_file_prints_no_traceback(argv, code, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    _state_dir_is_a_file(monkeypatch, tmp_path)
    result = run_cli(capsys, *argv)
    assert result.code == code, result.text
    assert "Traceback" not in result.text and "Logging error" not in result.text


def test_bug_hint_never_points_at_a_log_that_could_not_be_written(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    blocker = _state_dir_is_a_file(monkeypatch, tmp_path)
    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", lambda config: 1 / 0)
    result = run_cli(capsys, "up")
    assert result.code == errors.UNEXPECTED
    assert "Traceback" not in result.text
    assert f"no log could be written ({blocker} is a file, not a directory)" in result.err
    assert "details in" not in result.err


def test_unwritable_log_file_is_no_traceback(monkeypatch, tmp_path, capsys):
    """A read-only state dir (simulated: tests may run as root, who can write anywhere)."""
    import logging.handlers

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "kfbootstrap.log"))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", str(tmp_path / "ro-state"))
    monkeypatch.setattr(logging.handlers, "RotatingFileHandler", refuse)
    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", lambda config: 1 / 0)
    result = run_cli(capsys, "up")
    assert result.code == errors.UNEXPECTED and "Traceback" not in result.text
    assert "no log could be written (Permission denied" in result.err


def test_verbose_shows_a_bugs_traceback_once(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kfbootstrap.pipeline.build_steps", lambda config: 1 / 0)
    result = run_cli(capsys, "-v", "up")
    assert result.err.count("Traceback") == 1, result.err


def test_verbose_shows_no_traceback_for_a_known_error(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "-v", "config", "show", "--config", "missing.yaml")
    assert result.code == errors.USAGE
    assert "Traceback" not in result.text and "error: config file missing.yaml not found" in result.err


def test_log_rotates_during_a_run_not_only_at_start(monkeypatch, tmp_path):
    import logging

    from kfbootstrap import logsetup, paths

    monkeypatch.setattr(logsetup, "MAX_LOG_BYTES", 2000)
    monkeypatch.setattr(logsetup, "_configured", None)
    logsetup.setup_logging(False)
    log = logging.getLogger("kfbootstrap.test")
    for _ in range(200):
        log.info("x" * 100)
    assert paths.log_file().stat().st_size <= 2000
    assert paths.log_file().with_suffix(".log.1").exists()
