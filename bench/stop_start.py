"""Stop/start benchmark on the real Kind ground: `kfbootstrap start` of a stopped cluster against a fresh `up`.

The same platform as tests/e2e/test_kind_stop_start.py (tests/e2e/stop_start_ground.py): a cluster of
two workers whose 'Kubeflow' is our echo server behind a Service, forwarded in the background, and a
PVC held by a pod. Timed in one run:

- fresh up: `up` creates the cluster, the echo image is loaded into its nodes (there is no registry to
  pull from here), `up` applies the platform, until both Deployments are ready and the forward answers;
- start: `stop`, then `start`, until the same Deployments are ready and the forward answers on the
  same local port.

It prints both times and `ratio start/fresh up: <x>x` (goal: at most 0.25). --quick (one worker; CI
runs it, tests/e2e/test_bench_quick.py) runs the same flow. Exits non-zero when a step fails.

Run: .venv/bin/python bench/stop_start.py [--quick]   (after `make kindground`)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kfbootstrap import components as registry  # noqa: E402
from tests.bench_helpers import kind_ground  # noqa: E402
from tests.e2e.stop_start_ground import NAMESPACE, SERVICE, platform_config  # noqa: E402

NAME = f"kfb-bench-pause-{uuid.uuid4().hex[:6]}"  # this run's only: tests may use the same Docker meanwhile
OFF = tuple(registry.names())  # the platform here is the echo server alone: every component off


class Run:
    def __init__(self, g: dict[str, str], work: Path, workers: int):
        self.g, self.work = g, work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
        self.env.update(
            PATH=os.pathsep.join([str(Path(g["KFB_KIND"]).parent), g["BIN"], self.env.get("PATH", "")]),
            KUBECONFIG=str(work / "kubeconfig"),
            KFBOOTSTRAP_STATE_DIR=str(work / "state"),
            KFBOOTSTRAP_CACHE_DIR=str(work / "cache"),
        )
        self.config = work / "kfbootstrap.yaml"
        self.workers = workers
        self.base: dict[str, Any] = {
            "cluster": {"name": NAME, "workers": workers, "node_image": g["KFB_KIND_NODE_IMAGE"]},
            "components": dict.fromkeys(OFF, False),
            "forwards": {"auto": False},
            "cache": {"enabled": False},
        }

    def write(self, platform: bool) -> None:
        config = dict(self.base)
        if platform:
            config = {**config, **platform_config(self.work, self.g["KFB_ECHO_IMAGE"])}
            config["components"] = {**config["components"], "kubeflow": True}
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    def run(self, *argv: str, what: str, timeout: float = 1200) -> str:
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.work)
        if result.returncode != 0:
            raise SystemExit(
                f"error: {what} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout + result.stderr

    def kfb(self, *args: str) -> str:
        return self.run(
            sys.executable, "-m", "kfbootstrap", *args, "--config", str(self.config), what=f"kfbootstrap {args[0]}"
        )

    def ready(self, port: int) -> None:
        """Both Deployments rolled out and the forward answering."""
        for deployment in ("echo", "holder"):
            self.run(
                "kubectl",
                "--context",
                f"kind-{NAME}",
                "-n",
                NAMESPACE,
                "rollout",
                "status",
                f"deployment/{deployment}",
                "--timeout=300s",
                what=f"rollout of {deployment}",
            )
        deadline = time.monotonic() + 60
        while not answers(port):
            if time.monotonic() > deadline:
                raise SystemExit(f"error: the forward on 127.0.0.1:{port} did not answer within 60s")
            time.sleep(0.2)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one worker instead of two: CI's check")
    args = parser.parse_args()
    g = kind_ground()
    work = Path(tempfile.mkdtemp(prefix="kfb-bench-pause-"))
    r = Run(g, work, workers=1 if args.quick else 2)
    port = free_port()
    try:
        started = time.monotonic()
        r.write(platform=False)
        r.kfb("up")
        r.run(g["KFB_KIND"], "load", "docker-image", "--name", NAME, g["KFB_ECHO_IMAGE"], what="kind load")
        r.write(platform=True)
        r.kfb("up")
        r.kfb("expose", SERVICE, "-n", NAMESPACE, "--port", str(port), "--background")
        r.ready(port)
        fresh = time.monotonic() - started

        stopping = time.monotonic()
        r.kfb("stop")
        stopped = time.monotonic() - stopping
        if answers(port):
            raise SystemExit("error: the forward still answers after `stop`")

        starting = time.monotonic()
        said = r.kfb("start")
        r.ready(port)
        start = time.monotonic() - starting
    finally:
        subprocess.run(
            [sys.executable, "-m", "kfbootstrap", "down", "--config", str(r.config)],
            env=r.env,
            capture_output=True,
            cwd=work,
        )
    found = next((line.strip() for line in said.splitlines() if "Start Kind cluster" in line and "✓" in line), "")
    print(f"stop/start benchmark: {r.workers} workers, node image {g['KFB_KIND_NODE_IMAGE']}")
    print(f"fresh up (create, load the image, apply, ready, forward answers): {fresh:.1f}s")
    print(f"stop: {stopped:.1f}s")
    print(f"start (until the workload is ready and the forward answers on the same port): {start:.1f}s")
    print(f"start's cluster step: {found}")
    print(f"ratio start/fresh up: {start / fresh:.3f}x (goal: at most 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
