"""The image cache's pure parts: names, hosts.toml, image references, listing, credentials, drift."""

from __future__ import annotations

import base64
import functools
import json
import lzma
import re
import tomllib

import pytest
import yaml

from kfbootstrap import components
from kfbootstrap.cache.credentials import env_name, lookup
from kfbootstrap.cache.hosts_toml import hosts_path, hosts_toml
from kfbootstrap.cache.proxies import Wanted, differences
from kfbootstrap.cache.registries import Mirror, mirrors_for
from kfbootstrap.image_refs import DEFAULT_UPSTREAMS, parse_image
from kfbootstrap.cache.warm import blobs_of, platform_manifest
from kfbootstrap.cache.client import Manifest
from kfbootstrap.images import distinct, list_images, per_registry
from kfbootstrap.tools.docker import ContainerState, parse_size
from tests.fakes import FakeRunner
from tests.shared_fixtures import fixture_path


@pytest.mark.parametrize(
    "registry,remote,directory,mirror_url",
    [
        ("docker.io", "https://registry-1.docker.io", "docker.io", "http://kfbootstrap-cache-docker-io:5000"),
        ("ghcr.io", "https://ghcr.io", "ghcr.io", "http://kfbootstrap-cache-ghcr-io:5000"),
        (
            "registry.k8s.io",
            "https://registry.k8s.io",
            "registry.k8s.io",
            "http://kfbootstrap-cache-registry-k8s-io:5000",
        ),
        (
            "upstream.test:5000",
            "http://upstream.test:5000",
            "upstream.test:5000",
            "http://kfbootstrap-cache-upstream-test-5000:5000",
        ),
    ],
)
def test_hosts_toml_sends_pulls_to_the_cache_then_the_upstream(registry, remote, directory, mirror_url):
    mirror = Mirror(registry, remote)
    parsed = tomllib.loads(hosts_toml(mirror))
    assert hosts_path(mirror) == f"/etc/containerd/certs.d/{directory}/hosts.toml"
    assert parsed["server"] == remote  # the fallback when the cache does not answer
    assert list(parsed["host"]) == [mirror_url]  # exactly one mirror, tried first
    assert parsed["host"][mirror_url]["capabilities"] == ["pull", "resolve"]  # never push to a cache


def test_default_upstreams_cover_the_six_registries_of_the_release():
    mirrors = mirrors_for(DEFAULT_UPSTREAMS)
    assert {m.registry for m in mirrors} == {
        "docker.io",
        "ghcr.io",
        "gcr.io",
        "quay.io",
        "registry.k8s.io",
        "registry.istio.io",
    }
    assert len({m.container for m in mirrors}) == len({m.volume for m in mirrors}) == 6
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", m.container) for m in mirrors)
    assert Mirror("docker.io", DEFAULT_UPSTREAMS["docker.io"]).server == "https://registry-1.docker.io"


@pytest.mark.parametrize(
    "image,registry,repository,reference",
    [
        ("busybox", "docker.io", "library/busybox", "latest"),
        ("mysql:8.0", "docker.io", "library/mysql", "8.0"),
        ("kserve/kserve-controller:v0.18.0", "docker.io", "kserve/kserve-controller", "v0.18.0"),
        ("docker.io/alpine/k8s:1.32.3", "docker.io", "alpine/k8s", "1.32.3"),
        ("index.docker.io/library/postgres:17.6", "docker.io", "library/postgres", "17.6"),
        ("ghcr.io/kubeflow/kfp-frontend:2.16.1", "ghcr.io", "kubeflow/kfp-frontend", "2.16.1"),
        ("localhost:5000/app", "localhost:5000", "app", "latest"),
        (
            "gcr.io/knative-releases/knative.dev/serving/cmd/webhook@sha256:" + "a" * 64,
            "gcr.io",
            "knative-releases/knative.dev/serving/cmd/webhook",
            "sha256:" + "a" * 64,
        ),
        ("quay.io/x/y:1.0@sha256:" + "b" * 64, "quay.io", "x/y", "sha256:" + "b" * 64),
    ],
)
def test_image_references_are_split_as_containerd_resolves_them(image, registry, repository, reference):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.reference) == (registry, repository, reference)


@functools.lru_cache(maxsize=None)
def _fixture_objects(name: str) -> tuple[dict, ...]:
    """Parsed once per run, with libyaml when present (the example is 15 MB of YAML)."""
    text = lzma.decompress(fixture_path("kubeflow-26.03.1", name).read_bytes()).decode("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(o for o in yaml.load_all(text, Loader=loader) if o)


def _manifest_image_counts() -> dict[str, int]:
    """distinct_images per file, from the fixture MANIFEST's counts table (its own independent count)."""
    lines = fixture_path("kubeflow-26.03.1", "MANIFEST.txt").read_text(encoding="utf-8").splitlines()
    start = lines.index("## counts") + 2
    counts = {}
    for line in lines[start:]:
        if not line.strip() or line.startswith("#"):
            break
        cells = line.split("\t")
        counts[cells[0].split("/")[-1]] = int(cells[5])
    return counts


def test_every_image_of_the_26_03_1_example_is_listed_and_counted_per_registry():
    images = list_images({"kubeflow": _fixture_objects("example.yaml.xz")})
    assert len(distinct(images)) == 58 == _manifest_image_counts()["example.yaml.xz"]
    assert per_registry(images) == {
        "ghcr.io": 29,
        "docker.io": 10,
        "quay.io": 8,
        "gcr.io": 7,
        "registry.istio.io": 3,
        "registry.k8s.io": 1,
    }
    listed = {i.image for i in images}
    # An init container, a bare Docker Hub name and a digest-pinned image are all found.
    assert {"busybox", "mysql:8.0", "registry.istio.io/release/proxyv2:1.30.1"} <= listed
    assert any("@sha256:" in image for image in listed)


@pytest.mark.parametrize(
    "name",
    [
        "kserve.yaml.xz",
        "hub-model-registry.yaml.xz",
        "hub-model-catalog.yaml.xz",
        "cert-manager.yaml.xz",
        "cert-manager-kubeflow.yaml.xz",
    ],
)
def test_every_other_26_03_1_render_matches_its_manifest_count(name):
    images = list_images({"x": _fixture_objects(name)})
    assert len(distinct(images)) == _manifest_image_counts()[name]


def test_listing_keeps_components_apart_and_counts_a_shared_image_once():
    deployment = {
        "kind": "Deployment",
        "spec": {
            "template": {"spec": {"initContainers": [{"image": "busybox"}], "containers": [{"image": "ghcr.io/a/b:1"}]}}
        },
    }
    cronjob = {
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/a/b:1"}]}}}}},
    }
    configmap = {"kind": "ConfigMap", "data": {"image": "quay.io/not/run:1"}}
    images = list_images({"one": [deployment, configmap], "two": [cronjob]})
    assert [(i.component, i.image) for i in images] == [
        ("one", "busybox"),
        ("one", "ghcr.io/a/b:1"),
        ("two", "ghcr.io/a/b:1"),
    ]
    assert per_registry(images) == {"docker.io": 1, "ghcr.io": 1}


def test_credentials_from_the_environment_win_and_never_show_their_secret():
    runner = FakeRunner()
    found = lookup(
        "docker.io",
        runner,
        env={env_name("docker.io"): "alice:tok3n", "DOCKERHUB_USERNAME": "bob", "DOCKERHUB_TOKEN": "other"},
    )
    assert (found.username, found.secret) == ("alice", "tok3n")
    assert env_name("ghcr.io") == "KFB_CACHE_AUTH_GHCR_IO"
    assert "tok3n" not in repr(found) and "tok3n" not in found.source
    hub = lookup("docker.io", runner, env={"DOCKERHUB_USERNAME": "bob", "DOCKERHUB_TOKEN": "t"})
    assert (hub.username, hub.secret) == ("bob", "t")


def test_credentials_from_docker_config_auths_and_helpers(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"carol:pw").decode()}},
                "credHelpers": {"ghcr.io": "fake"},
            }
        )
    )
    runner = FakeRunner().on("docker-credential-fake", "get", stdout='{"Username": "dave", "Secret": "s"}')
    hub = lookup("docker.io", runner, env={}, docker_config=config)
    assert (hub.username, hub.secret) == ("carol", "pw")
    ghcr = lookup("ghcr.io", runner, env={}, docker_config=config)
    assert (ghcr.username, ghcr.secret) == ("dave", "s")
    assert runner.calls[-1] == ["docker-credential-fake", "get"]  # the server went on stdin, not argv
    assert lookup("quay.io", runner, env={}, docker_config=config) is None
    assert lookup("quay.io", runner, env={}, docker_config=tmp_path / "missing.json") is None


def _state(**changes) -> ContainerState:
    base = dict(
        name="c",
        image="registry:3",
        running=True,
        status="running",
        labels={},
        env={
            "REGISTRY_PROXY_REMOTEURL": "https://ghcr.io",
            "REGISTRY_PROXY_TTL": "0",
            "REGISTRY_HTTP_DEBUG_ADDR": ":5001",
            "PATH": "/bin",
        },
        networks=["kind"],
        mounts=["kfbootstrap-cache-ghcr-io"],
        published=["5000/tcp", "5001/tcp"],
    )
    base.update(changes)
    return ContainerState(**base)


def test_a_matching_cache_container_is_reused_and_each_drift_is_named():
    wanted = Wanted(Mirror("ghcr.io", "https://ghcr.io"), "registry:3", None)
    assert differences(_state(), wanted) == []
    assert differences(_state(image="registry:2"), wanted) == ["image registry:2 instead of registry:3"]
    moved = differences(_state(env={**_state().env, "REGISTRY_PROXY_REMOTEURL": "https://x"}), wanted)
    assert moved == ["REGISTRY_PROXY_REMOTEURL=https://x instead of https://ghcr.io"]
    assert differences(_state(mounts=[]), wanted) == ["storage not in volume kfbootstrap-cache-ghcr-io"]
    assert differences(_state(published=["5000/tcp"]), wanted) == ["port 5001/tcp not published on 127.0.0.1"]


def test_changed_credentials_replace_the_cache_without_naming_the_secret():
    from kfbootstrap.cache.credentials import Credential

    wanted = Wanted(Mirror("ghcr.io", "https://ghcr.io"), "registry:3", Credential("u", "n3w-secret", "env"))
    old = _state(env={**_state().env, "REGISTRY_PROXY_USERNAME": "u", "REGISTRY_PROXY_PASSWORD": "old-secret"})
    why = differences(old, wanted)
    assert why == ["registry credentials changed"]
    assert "secret" not in why[0].replace("registry credentials changed", "")


def test_warming_picks_the_nodes_platform_and_reads_config_and_layers():
    index = Manifest(
        "application/vnd.oci.image.index.v1+json",
        "sha256:i",
        {
            "manifests": [
                {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
                {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
            ]
        },
        10,
    )
    assert platform_manifest(index, "amd64") == "sha256:amd"
    with pytest.raises(LookupError, match="no linux/s390x image"):
        platform_manifest(index, "s390x")
    single = Manifest(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:m",
        {
            "config": {"digest": "sha256:c", "size": 5},
            "layers": [{"digest": "sha256:l1", "size": 100}, {"digest": "sha256:l2", "size": 7}],
        },
        10,
    )
    assert blobs_of(single) == [("sha256:c", 5), ("sha256:l1", 100), ("sha256:l2", 7)]


@pytest.mark.parametrize(
    "text,expected", [("0B", 0), ("968.1MB", 968_100_000), ("1.5GB", 1_500_000_000), ("12kB", 12_000), ("nonsense", 0)]
)
def test_docker_sizes_are_read_as_bytes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "settings,has_cache",
    [
        ({}, True),
        ({"cache": {"enabled": False}}, False),
        ({"cluster": {"context": "somebody-elses"}}, False),  # never touch nodes of a cluster we did not create
    ],
)
def test_up_sets_up_the_cache_right_after_creating_the_cluster(settings, has_cache):
    from kfbootstrap.config import Config
    from kfbootstrap.pipeline import build_steps

    names = [step.name for step in build_steps(Config.model_validate(settings))]
    assert ("cache" in names) is has_cache
    if has_cache:
        assert names.index("cache") == names.index("cluster") + 1 < names.index("kubeflow")


@pytest.mark.parametrize(
    "registries,message",
    [
        ({"Docker.IO": "https://x"}, "is not a registry host"),
        ({"ghcr.io": "ghcr.io"}, "must be an http(s):// URL"),
    ],
)
def test_bad_cache_registries_are_config_errors(registries, message):
    from kfbootstrap.config import load_config
    from kfbootstrap.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(flags={"cache.registries": registries}, env={})
    assert caught.value.exit_code == 2 and "cache.registries" in caught.value.message


def test_images_list_json_through_the_cli(capsys, tmp_path, monkeypatch):
    from tests.cli_helpers import run_cli

    monkeypatch.setenv("KFBOOTSTRAP_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "kfbootstrap.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubeflow": {"path": str(fixture_path("kubeflow-26.03.1", "example.yaml.xz"))},
                "components": {name: name == "kubeflow" for name in components.names()},
            }
        )
    )
    result = run_cli(capsys, "images", "list", "--config", config, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["distinct"] == 58 and data["per_registry"]["ghcr.io"] == 29
    assert {i["component"] for i in data["images"]} == {"kubeflow"}
    assert {
        "image": "busybox",
        "component": "kubeflow",
        "registry": "docker.io",
        "repository": "library/busybox",
        "tag": "latest",
        "digest": None,
    } in data["images"]


def test_pull_state_resumes_per_cache_generation(tmp_path):
    from kfbootstrap.cache.warm import PullState

    path = tmp_path / "state" / "images-pulled.json"
    state = PullState(path)
    state.mark("ghcr.io/a/b:1", "volume-made-at-1")
    again = PullState(path)  # a new run reads what the interrupted one finished
    assert again.done("ghcr.io/a/b:1", "volume-made-at-1")
    assert not again.done("ghcr.io/a/b:1", "volume-made-at-2")  # the cache was purged and made again
    assert not again.done("ghcr.io/a/c:1", "volume-made-at-1")
    path.write_text("{not json")
    assert not PullState(path).done("ghcr.io/a/b:1", "volume-made-at-1")  # a torn file means: pull again
