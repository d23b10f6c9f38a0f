"""Hostile forward state: records and heartbeats are validated, files outside the state dir are never
touched, our daemons are found by their command line, and `down` stops only its own cluster's forwards."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kfbootstrap.access import forwards
from tests.cli_helpers import run_cli
from tests.fakes import FakeRunner

GOOD = {
    "target": "grafana",
    "address": "127.0.0.1",
    "port": 3000,
    "namespace": "monitoring",
    "services": ["grafana"],
    "remote_port": 80,
    "context": "kind-kubeflow",
    "kubeconfig": None,
    "pid": 1,
    "started_at": 1.0,
    "log": "x",
}


def write_record(name: str, data) -> Path:
    directory = forwards.forwards_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class FakeDaemon:
    """A process whose command line is exactly our daemon's (`python -m kfbootstrap.access.daemon SPEC`),
    from a stand-in package of that name that only sleeps: no cluster needed to be found by what it is."""

    def __init__(self, tmp_path: Path, spec: dict):
        package = tmp_path / "fake-daemon" / "kfbootstrap" / "access"
        package.mkdir(parents=True)
        for init in (package / "__init__.py", package.parent / "__init__.py"):
            init.write_text("")
        (package / "daemon.py").write_text("import time\ntime.sleep(120)\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", forwards.DAEMON_MODULE, json.dumps(spec)],
            cwd=package.parent.parent,
            env={"PATH": "/usr/bin:/bin"},
        )
        deadline = time.monotonic() + 10
        while forwards.daemon_spec(self.proc.pid) is None:
            assert time.monotonic() < deadline, "the stand-in daemon did not start"
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


def daemon_spec(target="grafana", context="kind-kubeflow", port=3000) -> dict:
    return {
        "target": target,
        "address": "127.0.0.1",
        "port": port,
        "namespace": "monitoring",
        "services": [target],
        "remote_port": 80,
        "context": context,
        "kubeconfig": None,
        "directory": str(forwards.forwards_dir()),
    }


@pytest.fixture
def daemons(tmp_path):
    started: list[FakeDaemon] = []

    def start(**kwargs) -> FakeDaemon:
        started.append(FakeDaemon(tmp_path / str(len(started)), daemon_spec(**kwargs)))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()


BAD_RECORDS = {
    "huge-pid": {**GOOD, "pid": 2**70},
    "negative-pid": {**GOOD, "pid": -1},
    "string-pid": {**GOOD, "pid": "12"},
    "bool-pid": {**GOOD, "pid": True},
    "float-pid": {**GOOD, "pid": 1e10},
    "port": {**GOOD, "port": 70000},
    "started": {**GOOD, "started_at": "yesterday"},
    "services": {**GOOD, "services": "grafana"},
    "a-list": [1, 2, 3],
    "escape": {**GOOD, "target": "../../outside"},
    "dotted": {**GOOD, "target": "grafana.json"},
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_a_damaged_record_crashes_nothing(case, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    write_record("grafana.json", BAD_RECORDS[case])
    assert forwards.read_records() == []
    for argv in (["expose", "--list"], ["expose", "--list", "--json"], ["status"], ["expose", "--stop", "grafana"]):
        result = run_cli(capsys, *argv)
        assert result.code in (0, 1), (argv, result.text)
        assert "unexpected" not in result.err and "Traceback" not in result.text
    stopped = run_cli(capsys, "expose", "--stop", "--all")
    assert stopped.code == 0, stopped.text
    assert not (forwards.forwards_dir() / "grafana.json").exists(), "a damaged record in our directory is cleared"


@pytest.mark.parametrize("heartbeat", [1e308, -1e308, "soon", None, [1], float("nan")])
def test_an_absurd_heartbeat_is_stuck_not_a_crash(heartbeat, daemons, capsys):
    daemon = daemons()
    record = {**daemon_spec(), "pid": daemon.proc.pid, "started_at": 1.0, "log": "x"}
    write_record("grafana.json", record)
    write_record(
        "grafana.status.json",
        {"pid": daemon.proc.pid, "heartbeat": heartbeat, "ready_pods": "nope", "connections": "many"},
    )
    (read,) = forwards.read_records()
    assert forwards.health(read).state == "stuck"
    listed = run_cli(capsys, "expose", "--list", "--json")
    assert listed.code == 0 and json.loads(listed.out)[0]["health"] == "stuck"


def test_stop_all_never_touches_files_outside_the_state_dir(tmp_path, capsys):
    outside = tmp_path / "precious"
    outside.mkdir()
    victims = [outside / "victim.json", outside / "victim.status.json"]
    for victim in victims:
        victim.write_text("keep me")
    write_record("victim.json", {**GOOD, "target": "../" * 8 + str(outside / "victim")[1:], "pid": dead_pid()})
    write_record("grafana.json", {**GOOD, "pid": dead_pid(), "directory": str(outside)})
    result = run_cli(capsys, "expose", "--stop", "--all")
    assert result.code == 0, result.text
    assert all(v.read_text() == "keep me" for v in victims)
    assert list(forwards.forwards_dir().glob("*.json")) == []


def test_a_record_naming_another_directory_is_not_stopped_forever(tmp_path, capsys):
    write_record("grafana.json", {**GOOD, "pid": dead_pid(), "directory": str(tmp_path / "elsewhere")})
    (record,) = forwards.read_records()
    assert record.spec.directory == str(forwards.forwards_dir())  # where it was found, not what it says
    assert run_cli(capsys, "expose", "--stop", "grafana").code == 0
    assert forwards.read_records() == []


def test_a_live_daemon_with_a_damaged_record_is_found_and_stopped(daemons, capsys):
    daemon = daemons()
    write_record("grafana.json", "{damaged")
    (found,) = forwards.read_records()
    assert (found.spec.target, found.pid) == ("grafana", daemon.proc.pid)
    listed = json.loads(run_cli(capsys, "expose", "--list", "--json").out)
    assert [(row["target"], row["pid"]) for row in listed] == [("grafana", daemon.proc.pid)]
    assert run_cli(capsys, "expose", "--stop", "--all").code == 0
    daemon.proc.wait(timeout=10)
    assert not daemon.alive() and forwards.read_records() == []


def test_a_daemon_of_another_state_dir_is_not_ours(daemons, tmp_path, monkeypatch):
    daemons()
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", str(tmp_path / "other-state"))
    assert forwards.read_records() == []


def test_a_record_whose_pid_is_another_kfbootstrap_daemon_is_not_signalled(daemons):
    other = daemons(target="prometheus", port=9090)
    write_record("grafana.json", {**GOOD, "pid": other.proc.pid})
    by_target = {r.spec.target: r for r in forwards.read_records()}
    forwards.stop(by_target["grafana"])
    assert other.alive(), "prometheus's daemon was signalled through grafana's record"


def test_relative_state_dir_and_kubeconfig_become_absolute(tmp_path, monkeypatch):
    from kfbootstrap import paths
    from kfbootstrap.access.forwards import _daemon_env

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", "state")
    monkeypatch.setenv("KUBECONFIG", "kube/a.yaml:kube/b.yaml")
    assert paths.state_dir() == tmp_path / "state"
    env = _daemon_env()
    assert env["KUBECONFIG"] == f"{tmp_path}/kube/a.yaml:{tmp_path}/kube/b.yaml"
    assert env["KFBOOTSTRAP_STATE_DIR"] == str(tmp_path / "state")


def kind_world(clusters: list[str], delete_fails: bool = False) -> FakeRunner:
    runner = FakeRunner().on("kind", "get", "clusters", stdout="\n".join(clusters) + "\n")
    runner.on("kind", "version", stdout="kind v0.30.0 go1.24.6 linux/amd64")
    if delete_fails:
        runner.on("kind", "delete", exit_code=1, stderr="ERROR: failed to delete cluster")
    return runner


def test_down_stops_only_this_clusters_forwards_and_only_after_the_delete(daemons, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    ours = daemons(target="grafana", context="kind-kubeflow")
    theirs = daemons(target="prometheus", context="kind-other", port=9090)
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: kind_world(["kubeflow"], delete_fails=True))
    failed = run_cli(capsys, "down")
    assert failed.code == 1, failed.text
    assert ours.alive() and theirs.alive(), "a failed delete leaves the platform and its forwards usable"

    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: kind_world(["kubeflow"]))
    done = run_cli(capsys, "down")
    assert done.code == 0, done.text
    ours.proc.wait(timeout=10)
    assert not ours.alive() and theirs.alive()
    assert "Stop port-forwards (grafana)" in done.err
