"""A server that accepts connections and never answers: every command that talks to the cluster must give up
within a bound, with one error naming the server, instead of waiting forever (the hostile sweep saw 15+ min)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

API_TIMEOUT = 2  # timeouts.api for these runs
BOUND = 45.0  # seconds a command may take against the silent server (smoke: one probe, then no check waits)


@pytest.fixture
def kubeconfig(silent_server, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: silent
  cluster: {{server: "https://127.0.0.1:{silent_server}", insecure-skip-tls-verify: true}}
users:
- name: someone
  user: {{token: not-a-real-token}}
contexts:
- name: silent
  context: {{cluster: silent, user: someone}}
current-context: silent
""")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["creds", "kubeflow"],
        ["creds", "minio"],
        ["expose", "grafana"],
        ["expose", "--all", "--background"],
        ["smoke"],
        ["down", "--keep-cluster"],
        ["passwd", "--from-env", "NEW_PW"],
    ],
    ids=lambda argv: "-".join(a.strip("-") for a in argv),
)
def test_a_silent_api_server_fails_the_command_in_bounded_time_naming_it(argv, silent_server, kubeconfig, tmp_path):
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "KFBOOTSTRAP_STATE_DIR": str(tmp_path / "state"),
        "KFBOOTSTRAP_TIMEOUTS__API": str(API_TIMEOUT),
        "NEW_PW": "a-long-enough-password",
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kfbootstrap", *argv, "--context", "silent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND + 30,
        cwd=tmp_path,
    )
    seconds = time.monotonic() - started
    assert seconds < BOUND, f"{argv} took {seconds:.0f}s"
    assert proc.returncode == 1, proc.stderr
    assert f"127.0.0.1:{silent_server}" in proc.stderr + proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    if argv[0] != "smoke":
        assert proc.stderr.startswith("error: ") or "\nerror: " in proc.stderr
