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
    assert (
        f"warning: cluster not reachable, no cluster state collected: cannot use kube context kind-kubeflow "
        f"from {kubeconfig}" in result.err
    )
    assert list((tmp_path / "out").glob("*.tar.gz")), "what could be collected is still written"


@pytest.mark.parametrize("value", ["0", "-5"])
def test_pipeline_timeout_must_be_positive(value, capsys):
    result = run_cli(capsys, "smoke", "--pipeline-timeout", value)
    assert result.code == USAGE
    assert "--pipeline-timeout" in result.err


@pytest.mark.parametrize(
    "argv", [["--list", "--stop"], ["--list", "grafana"], ["--list", "--all"], ["--stop", "grafana", "--background"]]
)
def test_expose_refuses_contradictory_actions(argv, capsys):
    result = run_cli(capsys, "expose", *argv)
    assert result.code == USAGE, result.text
    assert result.err.startswith("error: ")


# ------------------------------------------------------------------ messages that said the wrong thing


def test_a_huge_bad_value_is_not_echoed_whole(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kfbootstrap.yaml").write_text("cluster:\n  name: " + "X" * 1_000_000 + "\n")  # under 1 MiB
    result = run_cli(capsys, "config", "show")
    assert result.code == USAGE
    assert len(result.err) < 2000 and "characters)" in result.err


def test_any_error_message_is_cut(capsys):
    result = run_cli(capsys, "creds", "y" * 100_000)
    assert result.code == USAGE and len(result.err) < 2000 and "more characters)" in result.err


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["up"], "finished steps are skipped and the rest resumes"),
        (["status"], "re-run `kfbootstrap status` to do it again"),
    ],
)
def test_the_ctrl_c_hint_speaks_of_resuming_only_where_something_resumes(argv, hint, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kfbootstrap.pipeline.run_steps", interrupted)
    monkeypatch.setattr("kfbootstrap.access.status.collect", interrupted)
    monkeypatch.setattr("kfbootstrap.kube.client.api_client", lambda *a, **k: None)
    monkeypatch.setattr("kfbootstrap.kube.workloads.list_workloads", interrupted)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: None)
    result = run_cli(capsys, *argv)
    assert result.code == 130, result.text
    assert hint in result.err.split("hint: ", 1)[1]
    assert ("resumes" in result.err) == (argv == ["up"])


def test_sigterm_exits_143_and_says_so(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import time, kfbootstrap.cli.app as app\n"
        "app.app.command('sleepy')(lambda: time.sleep(30))\n"
        "app.run(['sleepy'])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert "error: terminated (SIGTERM)" in err and "Traceback" not in err


def test_smoke_junit_that_cannot_be_written_is_a_usage_error_before_any_check(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")

    def no_checks(*args, **kwargs):
        raise AssertionError("checks ran before --junit was checked")

    monkeypatch.setattr("kfbootstrap.smoke.run.run_checks", no_checks)
    for junit in (blocker / "smoke.xml", tmp_path):
        result = run_cli(capsys, "smoke", "--junit", junit)
        assert result.code == USAGE, result.text
        assert result.err.startswith(f"error: --junit {junit}")


def test_a_privileged_port_is_not_called_in_use(monkeypatch):
    import os
    import socket

    from kfbootstrap.host import HostProbe
    from kfbootstrap.kube.portforward import PortInUse, bind_listener

    if os.geteuid() == 0:  # root may bind anything: simulate the refusal a user gets
        real_bind = socket.socket.bind

        def refuse(self, address):
            if address[1] < 1024:
                raise PermissionError(13, "Permission denied")
            return real_bind(self, address)

        monkeypatch.setattr(socket.socket, "bind", refuse)
    with pytest.raises(PermissionError):
        HostProbe().port_free("127.0.0.1", 80)
    with pytest.raises(Exception) as raised:
        bind_listener("127.0.0.1", 80)
    assert not isinstance(raised.value, PortInUse)
    assert "permission denied (ports below 1024 need root)" in raised.value.message


def test_doctor_says_a_privileged_port_needs_root():
    from kfbootstrap.config import Config
    from kfbootstrap.preflight.findings import WARN
    from kfbootstrap.preflight.machine import check_ports
    from tests.fakes import FakeHost

    class PrivilegedHost(FakeHost):
        def port_free(self, address, port):
            if port < 1024:
                raise PermissionError(13, "Permission denied")
            return True

    config = Config.model_validate({"forwards": {"ports": {"kubeflow": 80}}})
    (finding,) = [f for f in check_ports(config, PrivilegedHost()) if f.check == "port 80 (kubeflow)"]
    assert (finding.status, finding.detail) == (WARN, "below 1024: binding it needs root")


def test_down_with_the_context_kind_made_for_our_cluster_deletes_it(monkeypatch, tmp_path, capsys):
    from tests.fakes import FakeRunner

    from kfbootstrap import paths

    monkeypatch.chdir(tmp_path)
    runner = FakeRunner().on("kind", "get", "clusters", stdout="kubeflow\nhandmade\n")
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    # `up` leaves this behind for a cluster it created; `handmade` was made by `kind create` itself
    marker = paths.state_dir() / "clusters" / "kubeflow" / "kind-config.yaml"
    marker.parent.mkdir(parents=True)
    marker.write_text("kind: Cluster\n")
    handmade = run_cli(capsys, "down", "--context", "kind-handmade")
    assert handmade.code == USAGE and "did not create" in handmade.err
    assert not [argv for argv in runner.calls if argv[:2] == ["kind", "delete"]]
    result = run_cli(capsys, "down", "--context", "kind-kubeflow")
    assert result.code == 0, result.text
    assert ["kind", "delete", "cluster", "--name", "kubeflow"] in runner.calls
    other = run_cli(capsys, "down", "--context", "kind-not-a-kind-cluster")
    assert other.code == USAGE and "did not create" in other.err
