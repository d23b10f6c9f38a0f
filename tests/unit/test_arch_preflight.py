"""Doctor on arm64: images without an arm64 build, found in fake registries' image indexes on 127.0.0.1.

No registry is reachable here, so a small registry stand-in answers the way real ones do:
401 with a Bearer challenge, an anonymous token from the realm, then OCI indexes, Docker
manifest lists, or a single manifest whose config blob names its architecture.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kfbootstrap import components, image_platforms
from kfbootstrap.image_refs import parse_image
from kfbootstrap.config import Config
from kfbootstrap.preflight.checks import collect_findings
from kfbootstrap.preflight.findings import OK, WARN
from tests.fakes import FakeHost, healthy_runner

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def index(*architectures: str, media_type: str = OCI_INDEX) -> tuple[str, dict]:
    return media_type, {
        "mediaType": media_type,
        "manifests": [{"digest": f"sha256:{a}", "platform": {"os": "linux", "architecture": a}} for a in architectures]
        + [{"digest": "sha256:att", "platform": {"os": "unknown", "architecture": "unknown"}}],
    }


class FakeRegistry(ThreadingHTTPServer):
    """Repositories -> (media type, body); /token hands out a token; blobs are image configs."""

    def __init__(self, repositories: dict, blobs: dict | None = None, silent: set[str] | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repositories, self.blobs, self.silent = repositories, blobs or {}, silent or set()
        self.token_requests: list[str] = []
        self.host = f"127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def image(self, repository: str) -> str:
        return f"{self.host}/{repository}:1.0"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        registry: FakeRegistry = self.server  # type: ignore[assignment]
        if self.path.startswith("/token"):
            registry.token_requests.append(self.path)
            return self._send(200, "application/json", {"token": "anon-token"})
        if self.headers.get("Authorization") != "Bearer anon-token":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{registry.host}/token",service="fake"')
            self.end_headers()
            return
        parts = self.path.split("/")  # /v2/<repo...>/manifests/<ref>
        if "blobs" in parts:
            return self._send(200, "application/octet-stream", registry.blobs[parts[-1]])
        repository = "/".join(parts[2:-2])
        if repository in registry.silent:
            import time

            time.sleep(5)
        if repository not in registry.repositories:
            return self._send(404, "application/json", {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        media_type, body = registry.repositories[repository]
        self._send(200, media_type, body)

    def _send(self, status, media_type, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def registry():
    server = FakeRegistry(
        {
            "kubeflow/multi": index("amd64", "arm64"),
            "kubeflow/listed": index("amd64", "arm64", media_type=DOCKER_LIST),
            "kubeflow/pipelines-driver": index("amd64"),
            "kubeflow/single": (OCI_MANIFEST, {"mediaType": OCI_MANIFEST, "config": {"digest": "sha256:cfg"}}),
            "kubeflow/ppc": index("amd64", "ppc64le"),
        },
        blobs={"sha256:cfg": {"architecture": "amd64", "os": "linux"}},
        silent={"kubeflow/slow"},
    )
    yield server
    server.shutdown()


def refs(*images: str) -> dict:
    return {image: parse_image(image) for image in images}


def test_index_answers_give_each_images_platforms_through_the_token_challenge(registry):
    names = ["multi", "listed", "pipelines-driver", "single"]
    found = image_platforms.lookup(refs(*[registry.image(f"kubeflow/{n}") for n in names]))
    assert found.unknown == {}
    assert found.found[registry.image("kubeflow/multi")] == {"linux/amd64", "linux/arm64"}
    assert found.found[registry.image("kubeflow/listed")] == {"linux/amd64", "linux/arm64"}
    assert found.found[registry.image("kubeflow/single")] == {"linux/amd64"}  # from its config blob
    assert found.lacking("arm64") == sorted(
        [registry.image("kubeflow/pipelines-driver"), registry.image("kubeflow/single")]
    )
    assert registry.token_requests and "scope=repository%3Akubeflow%2Fmulti%3Apull" in " ".join(registry.token_requests)


def test_what_the_registry_does_not_say_is_cannot_tell_with_why(registry):
    closed = "127.0.0.1:9/kubeflow/gone:1"  # discard port: nothing listens
    found = image_platforms.lookup(
        refs(registry.image("kubeflow/nope"), closed, registry.image("kubeflow/slow")), deadline=2
    )
    assert found.found == {}
    assert found.unknown[registry.image("kubeflow/nope")] == f"HTTP 404 from {registry.host}"
    assert "unreachable" in found.unknown[closed]
    assert found.unknown[registry.image("kubeflow/slow")] == "no answer within 2s"


def arm64_runner():
    return healthy_runner().on(
        "docker",
        "info",
        stdout=json.dumps(
            {
                "ServerVersion": "28.2.2",
                "MemTotal": 34359738368,
                "NCPU": 8,
                "OperatingSystem": "Docker Desktop",
                "Architecture": "aarch64",
                "DockerRootDir": "/var/lib/docker",
            }
        ),
    )


def config_running(tmp_path, *images: str) -> Config:
    """Only Kubeflow on, from a pre-rendered file whose Deployments run these images."""
    import yaml

    render = tmp_path / "kubeflow.yaml"
    render.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"d{i}", "namespace": "kubeflow"},
                    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
                }
                for i, image in enumerate(images)
            ]
        )
    )
    off = {name: False for name in components.names() if name != "kubeflow"}
    return Config.model_validate({"kubeflow": {"path": str(render)}, "components": off})


def architecture_finding(config, runner, host=None):
    return {f.check: f for f in collect_findings(config, runner, host or FakeHost(machine="arm64"))}["architecture"]


def test_doctor_on_arm64_names_the_amd64_only_images(registry, tmp_path):
    config = config_running(
        tmp_path,
        registry.image("kubeflow/multi"),
        registry.image("kubeflow/pipelines-driver"),
        registry.image("kubeflow/ppc"),
    )
    found = architecture_finding(config, arm64_runner())
    assert found.status == WARN
    assert found.detail.startswith(
        "arm64 nodes (the Docker engine); 2 of 3 images have no linux/arm64 build (1 published for amd64 only): "
    )
    assert (
        registry.image("kubeflow/pipelines-driver") in found.detail and registry.image("kubeflow/ppc") in found.detail
    )
    assert registry.image("kubeflow/multi") not in found.detail
    assert "exec format error" in found.fix


def test_doctor_on_arm64_with_every_image_published_is_ok(registry, tmp_path):
    config = config_running(tmp_path, registry.image("kubeflow/multi"), registry.image("kubeflow/listed"))
    found = architecture_finding(config, arm64_runner())
    assert (found.status, found.detail) == (
        OK,
        "arm64 nodes (the Docker engine): all 2 images have a linux/arm64 build",
    )


def test_doctor_on_arm64_without_registries_says_it_cannot_tell(tmp_path):
    config = config_running(tmp_path, "127.0.0.1:9/kubeflow/a:1", "127.0.0.1:9/kubeflow/b:1")
    found = architecture_finding(config, arm64_runner())
    assert found.status == WARN
    assert found.detail.startswith(
        "arm64 nodes (the Docker engine); cannot tell for 2 of 2 images (127.0.0.1:9 unreachable"
    )
    assert "registries are reachable" in found.fix


def test_doctor_on_arm64_that_cannot_render_says_it_cannot_tell(tmp_path):
    off = {name: False for name in components.names() if name != "kubeflow"}
    runner = arm64_runner().on("git", exit_code=128, stderr="fatal: unable to access: Could not resolve host")
    found = architecture_finding(Config.model_validate({"components": off}), runner)
    assert (
        found.status == WARN
        and "cannot tell which images lack arm64 builds: rendering the components failed" in found.detail
    )


def test_amd64_hosts_look_nothing_up(tmp_path):
    def no_lookup(*args, **kwargs):
        raise AssertionError("looked up image indexes on amd64")

    from kfbootstrap.preflight.arch import check_architecture

    found = check_architecture(config_running(tmp_path, "x/y:1"), healthy_runner(), FakeHost(), None, lookup=no_lookup)
    assert found.status == OK and found.detail.startswith("amd64 nodes (this host)")
