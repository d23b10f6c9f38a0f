"""The image cache's test ground on top of the Kind ground: a stand-in upstream registry of our own.

Everything lives on a Docker network the test creates (`kind` is never touched):
the upstream (CNCF Distribution built from its Go module, tests/kind/registry-image.sh),
the cache kfbootstrap starts, and the Kind nodes (KIND_EXPERIMENTAL_DOCKER_NETWORK).
Test images are pushed into the upstream from the host over 127.0.0.1; nodes reach it
by container name. Its access log is the witness of what was pulled upstream.
Shared by tests/e2e/test_image_cache.py and bench/image_cache.py.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REGISTRY_BUILD = REPO / "tests" / "kind" / "registry-image.sh"
UPSTREAM_PORT = 5000

# Distribution's access log (gorilla combined format): client, time, request, status, bytes, agent.
_ACCESS = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "(?P<agent>[^"]*)"'
)


def docker(*args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, check=check, input=input)


def registry_image() -> str:
    """Build (or reuse) the Distribution image; nothing is pulled."""
    result = subprocess.run(["bash", str(REGISTRY_BUILD)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"registry-image.sh failed: {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    size: int
    agent: str

    @property
    def repository(self) -> str:
        match = re.match(r"^/v2/(.+)/(manifests|blobs)/", self.path)
        return match.group(1) if match else ""

    @property
    def is_pull(self) -> bool:
        """Content actually sent: a GET of a manifest or a blob (a HEAD only asks whether a tag moved)."""
        return self.method == "GET" and self.status == 200 and bool(re.search(r"/(manifests|blobs)/", self.path))


def parse_access_log(text: str) -> list[Request]:
    found = []
    for line in text.splitlines():
        match = _ACCESS.match(line)
        if match:
            size = match.group("bytes")
            found.append(
                Request(
                    match.group("method"),
                    match.group("path"),
                    int(match.group("status")),
                    0 if size == "-" else int(size),
                    match.group("agent"),
                )
            )
    return found


class Upstream:
    """Our stand-in for a public registry, on the test's network."""

    def __init__(self, name: str, network: str, image: str, login: tuple[str, str, Path] | None = None):
        """`login` (user, password, a private directory): the upstream asks for basic auth, like a private registry."""
        self.name, self.network, self.image, self.login = name, network, image, login
        self.registry = f"{name}:{UPSTREAM_PORT}"  # how images on the nodes name it
        self._mark = 0

    def start(self) -> None:
        docker("rm", "-f", self.name, check=False)
        auth: list[str] = []
        if self.login:
            import bcrypt

            user, password, directory = self.login
            (directory / "htpasswd").write_text(
                f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n"
            )
            auth = [
                "-v",
                f"{directory}:/auth:ro",
                "-e",
                "REGISTRY_AUTH=htpasswd",
                "-e",
                "REGISTRY_AUTH_HTPASSWD_REALM=e2e",
                "-e",
                "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
            ]
        docker(
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            self.network,
            "-p",
            f"127.0.0.1::{UPSTREAM_PORT}",
            *auth,
            self.image,
        )

    def _docker_client(self) -> list[str]:
        """docker CLI flags for pushing: a private client config, so the host's own logins never change."""
        if not self.login:
            return []
        user, password, directory = self.login
        client = ["--config", str(directory / "docker-client")]
        docker(*client, "login", "--username", user, "--password-stdin", self.host_address(), input=password.encode())
        return client

    def host_address(self) -> str:
        out = docker("port", self.name, f"{UPSTREAM_PORT}/tcp").stdout.decode().split()[0]
        return out.replace("0.0.0.0", "127.0.0.1")

    def push(self, local_image: str, repository: str, tag: str) -> str:
        """Push a local image into the upstream (from the host, over 127.0.0.1); returns its digest."""
        target = f"{self.host_address()}/{repository}:{tag}"
        docker("tag", local_image, target)
        pushed = docker(*self._docker_client(), "push", target).stdout.decode()
        docker("rmi", target, check=False)
        return re.search(r"digest: (sha256:[0-9a-f]{64})", pushed).group(1)

    def requests(self) -> list[Request]:
        logs = docker("logs", self.name)
        return parse_access_log((logs.stdout + logs.stderr).decode("utf-8", "replace"))

    def mark(self) -> None:
        """From now on, `since_mark` counts only what comes after this moment."""
        self._mark = len(self.requests())

    def since_mark(self, repository: str | None = None) -> list[Request]:
        found = self.requests()[self._mark :]
        return [r for r in found if repository is None or r.repository == repository]

    def stop(self) -> None:
        docker("stop", "--time", "2", self.name, check=False)

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)


def unique_image(base_image: str, tag: str) -> str:
    """A new local image with its own layer (base's files plus a random marker), so no node has it yet."""
    container = docker("create", base_image).stdout.decode().strip()
    try:
        exported = docker("export", container).stdout
    finally:
        docker("rm", "-f", container, check=False)
    buffer = io.BytesIO(exported)
    with tarfile.open(fileobj=buffer, mode="a") as archive:
        marker = uuid.uuid4().hex.encode()
        info = tarfile.TarInfo("kfb-marker")
        info.size = len(marker)
        archive.addfile(info, io.BytesIO(marker))
    entrypoint = json.loads(
        docker("image", "inspect", base_image, "--format", "{{json .Config.Entrypoint}}").stdout.decode()
    )
    docker("import", "--change", f"ENTRYPOINT {json.dumps(entrypoint)}", "-", tag, input=buffer.getvalue())
    return tag


def deployment(name: str, image: str) -> str:
    """A one-replica Deployment of the echo server (it listens on 8080 and needs no arguments)."""
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "echo",
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "ports": [{"containerPort": 8080}],
                            }
                        ]
                    },
                },
            },
        }
    )


def summarize(requests: list[Request]) -> dict[str, int]:
    pulls = [r for r in requests if r.is_pull]
    return {
        "requests": len(requests),
        "pulls": len(pulls),
        "bytes": sum(r.size for r in pulls),
        "tag_checks": sum(1 for r in requests if r.method == "HEAD" and "/manifests/" in r.path),
    }
