"""The Kind test ground for the e2e tests: real Docker, real kind, our offline node image.

`make kindground` (a prerequisite of `make test` and `make e2e`) builds and starts it;
these fixtures only ask `tests/kind/build.sh --check` where it is. Missing ground skips
locally and fails under KFB_REQUIRE_TESTBED=1, so CI can never pass by skipping.

Every kfbootstrap run is a subprocess with its own KUBECONFIG, state dir and PATH (kind,
kubectl and helm of the test ground first), so nobody's kubeconfig or forwards change.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfbootstrap import components as registry
from tests.testbed.cluster import wait_until  # noqa: F401  (the e2e modules import it from here)

REPO = Path(__file__).resolve().parents[2]
TESTBED_BUILD = REPO / "tests" / "testbed" / "build.sh"
GROUND_BUILD = REPO / "tests" / "kind" / "build.sh"
ALL_OFF = tuple(registry.names())


def _missing(message: str):
    if os.environ.get("KFB_REQUIRE_TESTBED") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class Ground:
    kind: Path
    node_image: str  # like kind v0.32.0's node: containerd v2.3 (tests/kind/build.sh)
    node030_image: str  # like kind v0.30.0's node: containerd v2.1, no default config_path
    echo_image: str
    metallb_images: list[str]
    bin_dir: Path
    kserve_controller_image: str  # the real KServe manager, tag = its version (tests/kind/kserve.sh)
    kserve_sklearn_image: str  # the ClusterServingRuntime kserve-sklearnserver's image
    kserve_dir: Path  # crd/ and rbac/ generated from KServe's module (tests/kserve_ground.py applies them)

    def path_env(self) -> str:
        return os.pathsep.join([str(self.kind.parent), str(self.bin_dir), os.environ.get("PATH", "")])


@pytest.fixture(scope="session")
def ground() -> Ground:
    checked = subprocess.run(["bash", str(GROUND_BUILD), "--check"], capture_output=True, text=True)
    if checked.returncode != 0:
        _missing(f"the Kind test ground is not built: {checked.stderr.strip()}")
    values = dict(line.split("=", 1) for line in checked.stdout.split() if "=" in line)
    bin_dir = subprocess.run(
        ["bash", str(TESTBED_BUILD), "--check"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return Ground(
        Path(values["KFB_KIND"]),
        values["KFB_KIND_NODE_IMAGE"],
        values["KFB_KIND030_NODE_IMAGE"],
        values["KFB_ECHO_IMAGE"],
        values["KFB_METALLB_IMAGES"].split(","),
        Path(bin_dir),
        values["KFB_KSERVE_CONTROLLER_IMAGE"],
        values["KFB_KSERVE_SKLEARN_IMAGE"],
        Path(values["KFB_KSERVE_DIR"]),
    )


@dataclass
class Session:
    """One isolated kfbootstrap user: config, kubeconfig, state dir, and the tools on PATH."""

    ground: Ground
    root: Path
    name: str
    workers: int = 1
    components: dict[str, bool] = field(default_factory=lambda: {c: False for c in ALL_OFF})
    extra: dict[str, Any] = field(default_factory=dict)
    node_image: str = ""  # the ground's kind v0.32 flavour unless a test picks another

    def __post_init__(self) -> None:
        self.node_image = self.node_image or self.ground.node_image

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def config_file(self) -> Path:
        return self.root / "kfbootstrap.yaml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
        env.update(
            PATH=self.ground.path_env(),
            KUBECONFIG=str(self.kubeconfig),
            KFBOOTSTRAP_STATE_DIR=str(self.root / "state"),
            KFBOOTSTRAP_CACHE_DIR=str(self.root / "cache"),
        )
        return env

    def write_config(self) -> Path:
        """A kfbootstrap.yaml as a user writes it: no kind config of our own, so `up` creates the
        cluster from the kind config it generates, unmodified (what this host needs, it adds)."""
        config = {
            "cluster": {"name": self.name, "workers": self.workers, "node_image": self.node_image},
            "components": self.components,
            "forwards": {"auto": False},
            # the image caches' registry image would be pulled from Docker Hub: never here
            "cache": {"enabled": False},
            **self.extra,
        }
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.config_file

    def kfb(self, *args: str, timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "kfbootstrap", *args]
        if "--config" not in args and args and args[0] not in ("doctor",):
            argv += ["--config", str(self.config_file)]
        result = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if check and result.returncode != 0:
            pytest.fail(f"kfbootstrap {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["kubectl", "--context", self.context, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def kind(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.ground.kind), *args], env=self.env(), capture_output=True, text=True, timeout=timeout, check=check
        )

    def clusters(self) -> list[str]:
        return self.kind("get", "clusters").stdout.split()

    def delete_cluster(self) -> None:
        self.kind("delete", "cluster", "--name", self.name, check=False)


def unique_name(prefix: str) -> str:
    """A cluster name of this run only: other checkouts run the same tests on the same engine."""
    return f"{prefix}-{secrets.token_hex(2)}"


def make_session(ground: Ground, tmp_path_factory, name: str, **kwargs) -> Session:
    session = Session(ground, tmp_path_factory.mktemp(name), name, **kwargs)
    session.delete_cluster()  # a leftover of an earlier, killed run must not be "reused"
    session.write_config()
    return session


def ready_nodes(session: Session) -> list[str]:
    nodes = session.kubectl_json("get", "nodes")["items"]
    return [
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    ]
