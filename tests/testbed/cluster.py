"""Start, use and tear down a kwok testbed cluster.

The cluster is real kube-apiserver, kube-controller-manager, kube-scheduler and
etcd processes started by `kwokctl --runtime binary`; kwok stands in for the
kubelet, so pods become Running/Ready, Deployments Available, PVCs Bound,
LoadBalancer Services get an address and port-forwards reach local processes.

Isolation rules, because tests run on developer machines and in parallel:
every file (kwokctl workdir, kubeconfig, helm and kubectl caches) lives under
one temporary directory, all components bind 127.0.0.1 on ports picked free
for this cluster, and the cluster name is unique per run and xdist worker.

Environment:
  KFB_TESTBED_BIN    directory of ready binaries (see build.sh)
  KFB_KWOK_STAGES    kwok's kustomize/stage directory, if not in the Go module cache
  KFB_TESTBED_KEEP=1 leave the cluster running after the tests, for debugging
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

TESTBED_DIR = Path(__file__).resolve().parent
BUILD_SCRIPT = TESTBED_DIR / "build.sh"
VERSIONS_FILE = TESTBED_DIR / "versions.env"
HELM4_FILE = TESTBED_DIR / "helm4.env"  # apart from versions.env, which keys the caches (see the file)

# kwok's own stage sets, read from the kwok module in the Go module cache at run
# time (never copied into this repo). The Stage CRD is enabled so tests can add
# stages at run time, and then kwokctl installs none of its defaults: "fast"
# (node init + lease heartbeat + pod ready/complete/delete) must be applied too.
# "volume/fast" binds PVCs of the default StorageClass kwok-volume it creates.
KWOK_STAGE_SETS = ("fast", "volume/fast")
# Documentation address (RFC 5737): clearly fake, never routes anywhere real.
DEFAULT_LOAD_BALANCER_IP = "192.0.2.240"
KWOK_CRDS = ("Stage", "ClusterPortForward")
FIELD_MANAGER = "kfb-testbed"


class TestbedNotBuilt(RuntimeError):
    """The binaries or kwok's stage files are missing; `make testbed` fixes it."""

    __test__ = False


class CommandFailed(RuntimeError):
    """A testbed command exited non-zero; the message carries its output."""

    def __init__(self, args: list[str], result: subprocess.CompletedProcess[str]):
        self.result = result
        super().__init__(
            f"{' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )


# --------------------------------------------------------------------------
# Locating the build
# --------------------------------------------------------------------------


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse versions.env so Python and build.sh share one source of truth."""
    versions = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def helm_binaries(bin_dir: Path) -> dict[str, Path]:
    """The pinned helms, by major version: build.sh names helm 4 after its version."""
    return {"helm3": bin_dir / "helm", "helm4": bin_dir / f"helm-{read_versions(HELM4_FILE)['HELM4_VERSION']}"}


def locate_bin_dir() -> Path:
    """Ask build.sh where the cached binaries are, without building anything."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT), "--check"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TestbedNotBuilt(result.stderr.strip() or "build.sh --check failed")
    return Path(result.stdout.strip().splitlines()[-1])


def _go_mod_cache() -> Path:
    """GOMODCACHE as Go resolves it; falls back to Go's default when go is absent."""
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    if shutil.which("go"):
        out = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    return Path(gopath.split(os.pathsep)[0]) / "pkg" / "mod"


def locate_stage_dir(kwok_version: str) -> Path:
    """kwok's kustomize/stage directory (KFB_KWOK_STAGES overrides the module cache)."""
    override = os.environ.get("KFB_KWOK_STAGES")
    stage_dir = (
        Path(override) if override else (_go_mod_cache() / f"sigs.k8s.io/kwok@{kwok_version}" / "kustomize" / "stage")
    )
    missing = [s for s in KWOK_STAGE_SETS if not (stage_dir / s / "kustomization.yaml").is_file()]
    if missing:
        raise TestbedNotBuilt(f"kwok stages {missing} not found under {stage_dir}")
    return stage_dir


# --------------------------------------------------------------------------
# Stage manifests
# --------------------------------------------------------------------------


def kustomize_resources(directory: Path) -> list[dict[str, Any]]:
    """Objects of a kustomization that only lists `resources` (as kwok's stage dirs do).

    A real kustomize is not needed for that, and refusing anything richer keeps
    us from silently mis-rendering a future kwok release.
    """
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - {"apiVersion", "kind", "resources"}
    if unsupported:
        raise ValueError(f"{directory}/kustomization.yaml uses unsupported fields {sorted(unsupported)}")
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += kustomize_resources(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def load_balancer_stage(ip: str) -> dict[str, Any]:
    """Stage giving LoadBalancer Services an ingress address, as MetalLB would on Kind.

    Without it `helm install --wait` and any "wait for external IP" logic hang.
    """
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "kfb-service-load-balancer"},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Service"},
            "selector": {
                "matchExpressions": [
                    {"jq": {"key": ".spec.type", "operator": "In", "values": ["LoadBalancer"]}},
                    {"jq": {"key": ".status.loadBalancer.ingress", "operator": "DoesNotExist"}},
                ]
            },
            "steps": [
                {
                    "patch": {
                        "subresource": "status",
                        "root": "status",
                        "template": f"loadBalancer:\n  ingress:\n  - ip: {json.dumps(ip)}\n",
                    }
                }
            ],
        },
    }


def dump_all(objects: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML for `kubectl apply -f -`."""
    return yaml.safe_dump_all(list(objects), sort_keys=False)


# --------------------------------------------------------------------------
# Small process helpers
# --------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct free 127.0.0.1 ports, all held open while choosing so none repeats.

    kwokctl would otherwise count down from 32766, which collides between
    parallel clusters.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def dns_label(text: str, limit: int = 40) -> str:
    """Lower-case DNS-1123 label fragment from arbitrary text (e.g. a test name)."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label[:limit].strip("-") or "x"


def has_condition(obj: dict[str, Any], condition: str) -> bool:
    """Whether a Kubernetes object reports status condition `condition` as True."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == condition and c.get("status") == "True" for c in conditions)


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# The testbed
# --------------------------------------------------------------------------


class Testbed:
    """One kwok cluster plus the environment to drive it with kubectl and helm.

    Use as a context manager (or call start()/stop()). Public attributes:
    `kubeconfig` (str path), `context` (kubeconfig context name), `bin_dir`
    (Path with kube-*, etcd, kwok, kwokctl, helm), `env` (dict for subprocesses:
    PATH with bin_dir first, KUBECONFIG, private helm/kubectl caches), `name`.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        bin_dir: Path,
        stage_dir: Path,
        *,
        nodes: int = 2,
        name: str | None = None,
        load_balancer_ip: str = DEFAULT_LOAD_BALANCER_IP,
    ):
        self.bin_dir = Path(bin_dir)
        self.stage_dir = Path(stage_dir)
        self.nodes = nodes
        self.load_balancer_ip = load_balancer_ip
        self.versions = read_versions()
        self.name = name or self._unique_name()
        self.context = f"kwok-{self.name}"
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.kubeconfig = str(self.root / "kubeconfig")
        self.kwok_workdir = self.root / "kwok"
        self.env = self._make_env()
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None

    @staticmethod
    def _unique_name() -> str:
        """Unique per run and per pytest-xdist worker, short enough for kwokctl paths."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        return f"kfb-{dns_label(worker, 8)}-{os.getpid()}-{secrets.token_hex(2)}"

    def _make_env(self) -> dict[str, str]:
        """Environment isolating every tool from the user's config and caches.

        Inherited KWOK_* variables are dropped because kwokctl lets them
        override the configuration file.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("KWOK_")}
        env.update(
            PATH=f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            KUBECONFIG=self.kubeconfig,
            KWOK_WORKDIR=str(self.kwok_workdir),
            KUBECACHEDIR=str(self.root / "kube-cache"),
            HELM_CACHE_HOME=str(self.root / "helm" / "cache"),
            HELM_CONFIG_HOME=str(self.root / "helm" / "config"),
            HELM_DATA_HOME=str(self.root / "helm" / "data"),
        )
        return env

    # ---------------------------------------------------------------- commands

    def run(
        self, args: list[str], *, input: str | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the testbed environment; raise CommandFailed on error if `check`."""
        result = subprocess.run(
            args, input=input, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise CommandFailed(args, result)
        return result

    def kubectl(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        """kubectl (from PATH) against this cluster only."""
        return self.run(["kubectl", "--context", self.context, *args], **kwargs)

    def helm(self, *args: str, binary: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
        """The pinned helm from bin_dir (or `binary`, e.g. helm 4) against this cluster only."""
        return self.run([str(binary or self.bin_dir / "helm"), "--kube-context", self.context, *args], **kwargs)

    def kwokctl(self, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        """kwokctl scoped to this cluster's name and private workdir."""
        return self.run([str(self.bin_dir / "kwokctl"), *args, "--name", self.name], **kwargs)

    def apply(
        self, objects: Iterable[dict[str, Any]] | str, *, server_side: bool = True, namespace: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Apply objects (dicts or YAML text); server-side by default, as large CRDs need."""
        manifest = objects if isinstance(objects, str) else dump_all(objects)
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts"]
        if namespace:
            args += ["-n", namespace]
        return self.kubectl(*args, input=manifest)

    def wait_for_condition(
        self, resource: str, condition: str = "Ready", *, namespace: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Poll until every object `kubectl get resource` returns has `condition` True.

        Polls rather than `kubectl wait`, which (kubectl 1.32) fails outright
        when an object has no status.conditions yet, e.g. a CRD just created.
        Returns the last `kubectl get -o json` document.
        """
        args = ["get", resource, "-o", "json"] + (["-n", namespace] if namespace else [])

        def satisfied():
            result = self.kubectl(*args, check=False)
            if result.returncode != 0:
                return None
            document = json.loads(result.stdout)
            items = document["items"] if "items" in document else [document]
            return document if items and all(has_condition(i, condition) for i in items) else None

        return wait_until(satisfied, timeout, what=f"{resource} to be {condition}")

    def api_client(self):
        """A kubernetes.client.ApiClient bound to this cluster (not the default kubeconfig)."""
        from kubernetes import config as kube_config

        return kube_config.new_client_from_config(config_file=self.kubeconfig, context=self.context)

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "Testbed":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Create the cluster and wait until nodes are Ready and stages are installed."""
        began = time.monotonic()
        try:
            self._create_cluster()
            self._wait_apiserver_ready()
            self._install_stages()
            self._add_nodes()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Delete the cluster and every file it made; safe to call twice."""
        if os.environ.get("KFB_TESTBED_KEEP") == "1" and self.root.exists():
            print(f"KFB_TESTBED_KEEP=1: leaving cluster {self.name}; KUBECONFIG={self.kubeconfig}")
            return
        if self.kwok_workdir.exists():
            result = self.kwokctl("delete", "cluster", "--kubeconfig", self.kubeconfig, check=False, timeout=120)
            if result.returncode != 0:
                self._kill_components()
        shutil.rmtree(self.root, ignore_errors=True)

    def _cluster_dir(self) -> Path:
        return self.kwok_workdir / "clusters" / self.name

    def _kill_components(self) -> None:
        """Last resort when `kwokctl delete` fails: kill the pids kwokctl recorded."""
        for pid_file in (self._cluster_dir() / "pids").glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)

    def _config(self) -> dict[str, Any]:
        """KwokctlConfiguration: pinned local binaries, 127.0.0.1 only, explicit ports."""
        ports = dict(
            zip(
                [
                    "kubeApiserverPort",
                    "etcdPort",
                    "etcdPeerPort",
                    "kubeControllerManagerPort",
                    "kubeSchedulerPort",
                    "kwokControllerPort",
                ],
                free_ports(6),
            )
        )
        self.ports = ports

        def binary(name: str) -> str:
            return str(self.bin_dir / name)

        return {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": {
                "runtime": "binary",
                "bindAddress": "127.0.0.1",
                "kubeVersion": self.versions["K8S_VERSION"],
                "etcdVersion": self.versions["ETCD_VERSION"].lstrip("v"),
                "kwokVersion": self.versions["KWOK_VERSION"],
                "kubeApiserverBinary": binary("kube-apiserver"),
                "kubeControllerManagerBinary": binary("kube-controller-manager"),
                "kubeSchedulerBinary": binary("kube-scheduler"),
                "etcdBinary": binary("etcd"),
                "kwokControllerBinary": binary("kwok"),
                "enableCRDs": list(KWOK_CRDS),
                "cacheDir": str(self.root / "kwok-cache"),
                "quietPull": True,
                **ports,
            },
        }

    def _create_cluster(self, attempts: int = 2) -> None:
        """`kwokctl create cluster`; on failure retried once with freshly picked ports."""
        config_path = self.root / "kwokctl.yaml"
        for attempt in range(1, attempts + 1):
            config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False))
            result = self.kwokctl(
                "create",
                "cluster",
                "--config",
                str(config_path),
                "--kubeconfig",
                self.kubeconfig,
                "--timeout",
                "3m",
                check=False,
                timeout=240,
            )
            if result.returncode == 0:
                return
            error = f"{CommandFailed(['kwokctl', 'create', 'cluster'], result)}\n{self.component_logs()}"
            self.kwokctl("delete", "cluster", "--kubeconfig", self.kubeconfig, check=False, timeout=120)
            if attempt == attempts:
                raise RuntimeError(error)

    def _wait_apiserver_ready(self, timeout: float = 120) -> None:
        """Poll /readyz ourselves: `kwokctl create --wait` exits 0 even on timeout."""
        try:
            wait_until(
                lambda: self.kubectl("get", "--raw", "/readyz", check=False, timeout=20).returncode == 0,
                timeout,
                what="kube-apiserver /readyz",
            )
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}\n{self.component_logs()}") from None
        for kind in KWOK_CRDS:
            self.wait_for_condition(f"crd/{kind.lower()}s.kwok.x-k8s.io", "Established")

    def stage_objects(self) -> list[dict[str, Any]]:
        """kwok's fast + volume stage sets (with StorageClass kwok-volume) and our LB stage."""
        objects = [obj for stage_set in KWOK_STAGE_SETS for obj in kustomize_resources(self.stage_dir / stage_set)]
        return objects + [load_balancer_stage(self.load_balancer_ip)]

    def _install_stages(self) -> None:
        self.apply(self.stage_objects())

    def _add_nodes(self, timeout: float = 90) -> None:
        """Fake nodes (kwokctl creates none) and wait until kwok reports them Ready."""
        self.kwokctl("scale", "node", "--replicas", str(self.nodes))
        nodes = self.wait_for_condition("nodes", "Ready", timeout=timeout)
        if len(nodes["items"]) < self.nodes:
            raise RuntimeError(f"expected {self.nodes} nodes, got {len(nodes['items'])}")

    def component_logs(self, tail: int = 30) -> str:
        """Tail of every component log, for error messages when startup fails."""
        chunks = []
        for log in sorted((self._cluster_dir() / "logs").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-tail:]
            chunks.append(f"--- {log.name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(chunks) or f"(no component logs under {self._cluster_dir()})"

    # ---------------------------------------------------------------- test helpers

    @contextlib.contextmanager
    def namespace(self, prefix: str = "test") -> Iterator[str]:
        """A fresh namespace (usable for pods: its default ServiceAccount exists), deleted after."""
        name = f"{dns_label(prefix, 50)}-{secrets.token_hex(3)}"
        self.kubectl("create", "namespace", name)
        try:
            # The ServiceAccount admission plugin rejects pods until the
            # controller-manager has created the namespace's default account.
            wait_until(
                lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
                30,
                interval=0.2,
                what=f"serviceaccount default in {name}",
            )
            yield name
        finally:
            self.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)

    @contextlib.contextmanager
    def cluster_port_forward(
        self,
        target_port: int,
        *,
        namespace: str | None = None,
        pod: str | None = None,
        ports: Iterable[int] | None = None,
        address: str = "127.0.0.1",
    ) -> Iterator[str]:
        """Route port-forwards to matching kwok pods to `address:target_port` on this host.

        kwok is the pods' "kubelet", so `kubectl port-forward` (SPDY or WebSocket)
        to such a pod lands on a local process a test started. kwok learns of the
        ClusterPortForward through a watch, so the first attempts right after
        creation may still fail; callers should retry briefly.
        Yields the ClusterPortForward's name.
        """
        name = f"kfb-{secrets.token_hex(4)}"
        selector: dict[str, list[str]] = {}
        if namespace:
            selector["matchNamespaces"] = [namespace]
        if pod:
            selector["matchNames"] = [pod]
        forward: dict[str, Any] = {"target": {"port": target_port, "address": address}}
        if ports:
            forward["ports"] = list(ports)
        self.apply(
            [
                {
                    "apiVersion": "kwok.x-k8s.io/v1alpha1",
                    "kind": "ClusterPortForward",
                    "metadata": {"name": name},
                    "spec": {"selector": selector, "forwards": [forward]},
                }
            ]
        )
        try:
            yield name
        finally:
            self.kubectl("delete", "clusterportforward", name, "--ignore-not-found", check=False)

    @contextlib.contextmanager
    def kubectl_port_forward(self, namespace: str, target: str, remote_port: int, timeout: float = 20) -> Iterator[int]:
        """Run `kubectl port-forward target :remote_port`; yield the local port it chose."""
        proc = subprocess.Popen(
            [
                "kubectl",
                "--context",
                self.context,
                "port-forward",
                "-n",
                namespace,
                "--address",
                "127.0.0.1",
                target,
                f":{remote_port}",
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield self._read_forwarded_port(proc, timeout)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @staticmethod
    def _read_forwarded_port(proc: subprocess.Popen, timeout: float) -> int:
        """Parse 'Forwarding from 127.0.0.1:NNNN -> P' from kubectl's stdout."""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = proc.stdout.readline()
                if not line:
                    break
                match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                if match:
                    return int(match.group(1))
        proc.kill()
        raise RuntimeError(f"kubectl port-forward did not start: {proc.stderr.read()}")
