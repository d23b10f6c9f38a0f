"""Inputs a hostile sweep found crashing as exit 3 or silently accepted: each is now exit 1 or 2 with one clear line."""

from __future__ import annotations

import pytest

from kfbootstrap.durations import parse_duration
from kfbootstrap.errors import FAILED, USAGE, UsageError
from tests.cli_helpers import run_cli


@pytest.mark.parametrize("text", ["²h", "١", "1h٣m", "³", "𝟗s"])
def test_non_ascii_digits_are_not_durations(text):
    with pytest.raises(UsageError, match="is not a duration"):
        parse_duration(text)


KUBECONFIGS = {
    "not-yaml": "apiVersion: v1\nclusters: [\n",
    "a-list": "- one\n- two\n",
    "a-string": "just words\n",
    "binary": "\x00\x01\x02",
}
COMMANDS = [["status"], ["creds", "kubeflow"], ["expose", "grafana"], ["down", "--keep-cluster"], ["smoke"]]


@pytest.mark.parametrize("kind", sorted(KUBECONFIGS))
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: "-".join(a))
def test_a_kubeconfig_that_is_not_one_is_a_known_failure(kind, argv, tmp_path, monkeypatch, capsys):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIGS[kind])
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, *argv)
    assert result.code == FAILED, result.text
    assert "unexpected" not in result.err and "Traceback" not in result.text
    assert f"from {kubeconfig}" in result.err


def test_diagnose_with_a_kubeconfig_that_is_not_one_still_writes_its_bundle(tmp_path, monkeypatch, capsys):
    """diagnose runs when things are broken: it writes what it can, says what it could not, exits 0 (README)."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIGS["not-yaml"])
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("PATH", str(tmp_path))  # no kind, no helm: nothing outside this test is asked
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "diagnose", "--out", tmp_path / "out")
    assert result.code == 0, result.text
    assert "unexpected" not in result.err and "Traceback" not in result.text
    assert f"warning: cluster not reachable, no cluster state collected: cannot use kube context kind-kubeflow " \
           f"from {kubeconfig}" in result.err
    assert list((tmp_path / "out").glob("*.tar.gz")), "what could be collected is still written"


@pytest.mark.parametrize("value", ["0", "-5"])
def test_pipeline_timeout_must_be_positive(value, capsys):
    result = run_cli(capsys, "smoke", "--pipeline-timeout", value)
    assert result.code == USAGE
    assert "--pipeline-timeout" in result.err


@pytest.mark.parametrize("argv", [["--list", "--stop"], ["--list", "grafana"], ["--list", "--all"],
                                  ["--stop", "grafana", "--background"]])
def test_expose_refuses_contradictory_actions(argv, capsys):
    result = run_cli(capsys, "expose", *argv)
    assert result.code == USAGE, result.text
    assert result.err.startswith("error: ")
