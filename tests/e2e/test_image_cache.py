"""The image cache on the real Kind ground (issue 14): pull once, then never again from the upstream.

A stand-in upstream registry of our own holds the test images; kfbootstrap's cache is
configured as its mirror (cache.registries). The first cluster pulls through the
cache; after `down` and a fresh `up`, the upstream's access log shows no pull of those
images while their pods run; with the upstream stopped a warm cache still serves; with
the cache stopped, nodes pull straight from the upstream (the fallback). Everything is
on a Docker network the test creates, so no request can leave the machine.

Every test runs on both node flavours of the ground: kind v0.32's (containerd 2.3, which
reads certs.d by default) and kind v0.30's (containerd 2.1, which reads it only because the
kind config `up` generates sets config_path). Neither gets any kind config from the test.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from kfbootstrap.cache import nodes
from kfbootstrap.cache.credentials import env_name
from tests.e2e.cache_ground import Upstream, deployment, docker, registry_image, summarize, unique_image
from tests.e2e.conftest import REPO, Session, wait_until

pytestmark = pytest.mark.kind

# Names of this run only: helpers and CI may run this module at the same time on one Docker.
RUN = uuid.uuid4().hex[:6]
NAME = f"kfb-e2e-cache-{RUN}"
NETWORK = f"kfb-e2e-cache-net-{RUN}"
UPSTREAM = f"kfb-e2e-up-{RUN}"
PRIVATE = f"kfb-e2e-priv-{RUN}"
CACHE = f"kfbootstrap-cache-kfb-e2e-up-{RUN}-5000"  # what kfbootstrap names the cache of that registry
PRIVATE_CACHE = f"kfbootstrap-cache-kfb-e2e-priv-{RUN}-5000"


class CacheSession(Session):
    """A session whose Kind nodes join the test's own network instead of `kind`."""

    extra_env: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        return {**super().env(), "KIND_EXPERIMENTAL_DOCKER_NETWORK": NETWORK, **self.extra_env}


@pytest.fixture(scope="module", params=["kind032", "kind030"])
def world(ground, request):
    node_image = {"kind032": ground.node_image, "kind030": ground.node030_image}[request.param]
    image = registry_image()
    docker("rm", "-f", CACHE, check=False)
    docker("volume", "rm", "-f", CACHE, check=False)
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", NETWORK)
    upstream = Upstream(UPSTREAM, NETWORK, image)
    upstream.start()
    wait_until(lambda: docker("port", UPSTREAM, "5000/tcp", check=False).returncode == 0, 30, 0.5, "upstream port")
    time.sleep(1)
    digest = upstream.push(ground.echo_image, "e2e/echo", "v1")
    # Not under pytest's basetemp: other pytest runs on this machine prune old basetemps, and this
    # module's state (the `images pull` record, the log searched for secrets) must outlive them.
    root = Path(tempfile.mkdtemp(prefix=f"{NAME}-"))
    session = CacheSession(
        ground,
        root,
        NAME,
        workers=1,
        node_image=node_image,
        extra={
            "cache": {
                "image": image,
                "network": NETWORK,
                "registries": {upstream.registry: f"http://{upstream.registry}"},
            }
        },
    )
    session.delete_cluster()
    session.write_config()
    session.upstream, session.digest, session.numbers = upstream, digest, {}
    session.flavour = request.param
    yield session
    session.delete_cluster()
    docker("rm", "-f", CACHE, check=False)
    docker("volume", "rm", "-f", CACHE, check=False)
    upstream.remove()
    docker("network", "rm", NETWORK, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _images(world) -> dict[str, str]:
    registry = world.upstream.registry
    return {"echo-tag": f"{registry}/e2e/echo:v1", "echo-digest": f"{registry}/e2e/echo@{world.digest}"}


def _run_workloads(world, images: dict[str, str], timeout: int = 240) -> None:
    for name, image in images.items():
        _apply(world, deployment(name, image))
    for name in images:
        world.kubectl(
            "wait", "--for=condition=Available", f"deployment/{name}", f"--timeout={timeout}s", timeout=timeout + 30
        )


def _apply(world, manifest: str) -> None:
    import subprocess

    subprocess.run(
        ["kubectl", "--context", world.context, "apply", "-f", "-"],
        input=manifest,
        text=True,
        env=world.env(),
        capture_output=True,
        check=True,
        timeout=60,
    )


def _running_images(world) -> set[str]:
    pods = world.kubectl_json("get", "pods", "-n", "default")["items"]
    return {c["image"] for p in pods if p["status"].get("phase") == "Running" for c in p["spec"]["containers"]}


def _up(world) -> str:
    result = world.kfb("up", timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


def _docker_cgroup_version() -> str:
    return docker("info", "--format", "{{.CgroupVersion}}").stdout.decode().strip()


def test_first_cluster_pulls_through_the_cache(world):
    err = _up(world)
    assert "Set up the image cache" in err
    # The nodes read certs.d (containerd says so), so no warning claims otherwise.
    flat = " ".join(err.split())  # the console may wrap a long line
    assert "skip the cache" not in flat and "cannot tell whether containerd" not in flat, err
    # This host mounts cgroup v1: `up` adds failCgroupV1 itself, and says so once.
    expected = 1 if _docker_cgroup_version() == "1" else 0
    assert flat.count("added failCgroupV1: false") == expected, err
    state = json.loads(docker("container", "inspect", CACHE).stdout)[0]
    assert state["State"]["Running"] and NETWORK in state["NetworkSettings"]["Networks"]
    for node in world.kind("get", "nodes", "--name", NAME).stdout.split():
        hosts = docker("exec", node, "cat", f"/etc/containerd/certs.d/{world.upstream.registry}/hosts.toml")
        text = hosts.stdout.decode()
        assert f'server = "http://{world.upstream.registry}"' in text and f'[host."http://{CACHE}:5000"]' in text
    world.upstream.mark()
    _run_workloads(world, _images(world))
    first = world.upstream.since_mark("e2e/echo")
    world.numbers["first"] = summarize(first)
    assert world.numbers["first"]["pulls"] > 0  # the cache had to fetch them once
    assert all(not r.agent.startswith("containerd") for r in first), "a node bypassed the cache"
    cache_log = docker("logs", CACHE)
    assert b'"containerd/' in cache_log.stdout + cache_log.stderr  # the nodes asked the cache


def _versions() -> dict[str, str]:
    lines = (REPO / "tests" / "kind" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _config_path(dump: str) -> str:
    """The CRI registry config_path of a `containerd config dump` (containerd 2.x: config version 3)."""
    plugins = tomllib.loads(dump).get("plugins", {})
    return plugins.get("io.containerd.cri.v1.images", {}).get("registry", {}).get("config_path", "")


def test_the_node_runs_the_runtime_of_its_kind_release(world):
    """The node is what we claim: its running containerd and runc at the versions of the kind
    release the flavour stands for; kind's config.toml sets no config_path, so containerd's own
    default decides (2.3: certs.d; 2.1: none) until the kind config of `up` sets it, as it did."""
    pinned = _versions()
    prefix = "" if world.flavour == "kind032" else "KIND030_"
    node = world.kind("get", "nodes", "--name", NAME).stdout.split()[0]
    containerd = docker("exec", node, "containerd", "--version").stdout.decode()
    assert f" {pinned[prefix + 'CONTAINERD_VERSION']} " in f"{containerd} ", containerd
    runc = docker("exec", node, "runc", "--version").stdout.decode()
    assert f"runc version {pinned[prefix + 'RUNC_VERSION'].lstrip('v')}\n" in runc, runc
    image_config = docker("run", "--rm", "--entrypoint", "cat", world.node_image, "/etc/containerd/config.toml")
    cri = tomllib.loads(image_config.stdout.decode())["plugins"]["io.containerd.grpc.v1.cri"]
    assert "registry" not in cri  # no config_path, as in kind's image: kind patches it in at create
    running = _config_path(docker("exec", node, "containerd", "config", "dump").stdout.decode())
    assert running.split(":")[0] == "/etc/containerd/certs.d", running  # the generated kind config's patch
    # Without that patch (the image as kind starts it), kfbootstrap's judgement from the dump and
    # the version: 2.3 reads certs.d by its built-in default, 2.1 reads no hosts.toml at all.
    bare = docker("run", "--rm", "--entrypoint", "containerd", world.node_image, "config", "dump").stdout.decode()
    assert _config_path(bare) == ""  # the 2.2+ default is applied at start, never shown in the dump
    version = docker("run", "--rm", "--entrypoint", "containerd", world.node_image, "--version").stdout.decode()
    assert nodes.reads_certs_d(bare, version) is (world.flavour == "kind032")


def test_a_node_rejects_every_address_outside_its_networks_at_once(world):
    """The traffic rule without hosts.toml: an image pull a node's containerd makes on its own
    (ctr reads no certs.d) to an address on a network the node is not on (another network this
    test made, with a registry on it) is refused by the node at once, not sent and timed out."""
    other = f"{NETWORK}-other"
    docker("network", "rm", other, check=False)
    docker("network", "create", other)
    stray = Upstream(f"{UPSTREAM}-other", other, world.upstream.image)
    try:
        stray.start()
        address = json.loads(docker("container", "inspect", stray.name).stdout)[0]["NetworkSettings"]["Networks"][
            other
        ]["IPAddress"]
        node = world.kind("get", "nodes", "--name", NAME).stdout.split()[0]
        started = time.monotonic()
        pull = docker(
            "exec",
            node,
            "ctr",
            "-n",
            "k8s.io",
            "images",
            "pull",
            "--plain-http",
            f"{address}:5000/e2e/echo:v1",
            check=False,
        )
        took = time.monotonic() - started
        assert pull.returncode != 0 and took < 10, (took, pull.stderr)
        assert b"connection refused" in pull.stderr, pull.stderr
        counters = docker("exec", node, "iptables", "-L", "KFB-EGRESS", "-v", "-n", "-x").stdout.decode()
        rejected = [line.split() for line in counters.splitlines() if "REJECT" in line]
        assert rejected and int(rejected[0][0]) > 0, counters
    finally:
        stray.remove()
        docker("network", "rm", other, check=False)


def test_down_keeps_the_cache(world):
    gone = world.kfb("down", timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert NAME not in world.clusters()
    assert json.loads(docker("container", "inspect", CACHE).stdout)[0]["State"]["Running"]
    assert docker("volume", "inspect", CACHE, check=False).returncode == 0


def test_a_fresh_cluster_pulls_nothing_from_the_upstream(world):
    err = _up(world)
    assert "caches 1 reused" in err
    world.upstream.mark()
    _run_workloads(world, _images(world))
    assert set(_images(world).values()) <= _running_images(world)
    second = world.upstream.since_mark()
    world.numbers["second"] = summarize(second)
    assert world.numbers["second"]["pulls"] == 0, second
    assert world.numbers["second"]["bytes"] == 0
    # The only upstream traffic allowed: the cache asking whether tag v1 moved (HEAD), and the /v2/ handshake.
    assert all((r.method == "HEAD" and r.path.endswith("/manifests/v1")) or r.path == "/v2/" for r in second), second


def test_a_warm_cache_serves_with_the_upstream_gone(world):
    world.upstream.stop()
    try:
        images = _images(world)
        removed = set()
        for node in world.kind("get", "nodes", "--name", NAME).stdout.split():
            present = [
                i for i in images.values() if docker("exec", node, "crictl", "inspecti", i, check=False).returncode == 0
            ]
            if present:
                docker("exec", node, "crictl", "rmi", *present)
                removed.update(present)
            assert all(
                docker("exec", node, "crictl", "inspecti", i, check=False).returncode != 0 for i in images.values()
            )
        assert removed == set(images.values())  # the nodes must pull them again, now with no upstream
        world.kubectl("delete", "pods", "-n", "default", "--all", "--wait=true", timeout=180)
        for name in images:
            world.kubectl("wait", "--for=condition=Available", f"deployment/{name}", "--timeout=180s", timeout=210)
        assert set(images.values()) <= _running_images(world)
    finally:
        docker("start", UPSTREAM)


def test_cache_status_reports_what_it_holds(world):
    result = world.kfb("cache", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (cache,) = json.loads(result.stdout)["caches"]
    assert cache["state"] == "running" and cache["container"] == CACHE
    assert cache["repositories"] == 1 and cache["size_bytes"] > 1_000_000
    assert cache["hits"]["blobs"]["Hits"] > 0


def test_a_stopped_cache_falls_back_to_the_upstream(world):
    fresh = unique_image(world.ground.echo_image, "kfbootstrap.test/echo-fallback:e2e")
    world.upstream.push(fresh, "e2e/fallback", "v1")
    docker("stop", "--time", "2", CACHE)
    world.upstream.mark()
    _run_workloads(world, {"fallback": f"{world.upstream.registry}/e2e/fallback:v1"}, timeout=300)
    direct = world.upstream.since_mark("e2e/fallback")
    assert any(r.is_pull and r.agent.startswith("containerd") for r in direct), direct  # the node, not the cache
    assert not json.loads(docker("container", "inspect", CACHE).stdout)[0]["State"]["Running"]
    docker("rmi", fresh, check=False)


def test_up_restarts_a_stopped_cache_and_replaces_a_wrong_one(world):
    assert "caches 1 started" in _up(world)
    docker("rm", "-f", CACHE)
    docker(
        "run",
        "-d",
        "--name",
        CACHE,
        "--network",
        NETWORK,
        "-v",
        f"{CACHE}:/var/lib/registry",
        "-e",
        "REGISTRY_PROXY_REMOTEURL=http://somewhere-else:5000",
        world.extra["cache"]["image"],
    )
    err = _up(world)
    assert "replacing cache container" in err and "somewhere-else" in err and "caches 1 replaced" in err
    env = json.loads(docker("container", "inspect", CACHE).stdout)[0]["Config"]["Env"]
    assert f"REGISTRY_PROXY_REMOTEURL=http://{world.upstream.registry}" in env


def test_registry_credentials_reach_only_the_cache_container(world):
    secret = "e2e-Secret-7c1f"
    world.extra_env = {env_name(world.upstream.registry): f"e2e-user:{secret}"}
    try:
        err = _up(world)
    finally:
        world.extra_env = {}
    assert "registry credentials changed" in err and secret not in err
    env = json.loads(docker("container", "inspect", CACHE).stdout)[0]["Config"]["Env"]
    assert f"REGISTRY_PROXY_PASSWORD={secret}" in env and "REGISTRY_PROXY_USERNAME=e2e-user" in env
    logs = "".join(p.read_text(errors="replace") for p in (world.root / "state").rglob("*.log*") if p.is_file())
    assert logs and secret not in logs
    for node in world.kind("get", "nodes", "--name", NAME).stdout.split():
        found = docker("exec", node, "grep", "-r", "-l", secret, "/etc/containerd", check=False)
        assert found.returncode == 1, found.stdout  # grep: not found anywhere in the node's containerd config
    secrets = world.kubectl("get", "secrets,configmaps", "-A", "-o", "json").stdout
    assert secret not in secrets
    # Without the credentials the cache is made anonymous again (and says why, without the value).
    err = _up(world)
    assert "registry credentials changed" in err and secret not in err
    env = json.loads(docker("container", "inspect", CACHE).stdout)[0]["Config"]["Env"]
    assert not any(e.startswith("REGISTRY_PROXY_PASSWORD") for e in env)


def test_a_private_upstream_is_pulled_with_the_caches_credentials(world):
    """Nodes hold no credentials, so a pod of a private registry's image runs only if the cache logged in."""
    import yaml

    private_dir = world.root / "private"
    private_dir.mkdir()
    user, password = "e2e-user", "e2e-Private-91d3"
    private = Upstream(PRIVATE, NETWORK, world.extra["cache"]["image"], login=(user, password, private_dir))
    private.start()
    wait_until(lambda: docker("port", private.name, "5000/tcp", check=False).returncode == 0, 30, 0.5, "private port")
    time.sleep(1)
    try:
        private.push(world.ground.echo_image, "e2e/private", "v1")
        config = yaml.safe_load(world.config_file.read_text())
        config["cache"]["registries"][private.registry] = f"http://{private.registry}"
        two = world.root / "two-registries.yaml"
        two.write_text(yaml.safe_dump(config))
        world.extra_env = {env_name(private.registry): f"{user}:{password}"}
        try:
            up = world.kfb("up", "--config", str(two), timeout=1200)
        finally:
            world.extra_env = {}
        assert up.returncode == 0, up.stdout + up.stderr
        assert password not in up.stdout + up.stderr
        unauthenticated = [r for r in private.requests() if r.status == 401]
        _run_workloads(world, {"private": f"{private.registry}/e2e/private:v1"}, timeout=240)
        pulls = [r for r in private.requests() if r.is_pull and "e2e/private" in r.path]
        assert pulls and all(not r.agent.startswith("containerd") for r in pulls)  # the cache pulled, not a node
        assert len(private.requests()) > len(unauthenticated)
    finally:
        world.kubectl("delete", "deployment", "private", "--ignore-not-found", check=False)
        docker("rm", "-f", PRIVATE_CACHE, check=False)
        docker("volume", "rm", "-f", PRIVATE_CACHE, check=False)
        private.remove()


def test_status_and_doctor_show_the_cache(world):
    status = world.kfb("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    cache = json.loads(status.stdout)["cache"]
    assert cache["enabled"] and cache["caches"][0]["state"] == "running"
    assert f"1 caches running ({world.upstream.registry})" in cache["summary"]
    doctor = world.kfb("doctor", "--json", "--config", str(world.config_file))
    rows = {row["check"]: row for row in json.loads(doctor.stdout)}
    assert rows["image cache"]["status"] == "ok" and world.upstream.registry in rows["image cache"]["detail"]


def test_down_purge_cache_removes_container_and_volume(world):
    print(
        f"\nupstream traffic for e2e/echo: first cluster {world.numbers.get('first')}, "
        f"second cluster {world.numbers.get('second')}"
    )
    gone = world.kfb("down", "--purge-cache", timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert docker("container", "inspect", CACHE, check=False).returncode != 0
    assert docker("volume", "inspect", CACHE, check=False).returncode != 0


def _images_config(world, images: list[str]) -> str:
    """A config whose only component is a pre-rendered 'Kubeflow' running `images` (for images list/pull)."""
    import yaml

    rendered = world.root / "prerendered.yaml"
    rendered.write_text("\n---\n".join(deployment(f"warm{n}", image) for n, image in enumerate(images)))
    config = yaml.safe_load(world.config_file.read_text())
    config["components"] = {**config["components"], "kubeflow": True}
    config["kubeflow"] = {"path": str(rendered)}
    path = world.root / "images.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def test_images_pull_warms_the_cache_before_any_cluster_and_resumes(world):
    warm = unique_image(world.ground.echo_image, "kfbootstrap.test/echo-warm:e2e")
    world.upstream.push(warm, "e2e/warm", "v1")
    docker("rmi", warm, check=False)
    images = [f"{world.upstream.registry}/e2e/echo:v1", f"{world.upstream.registry}/e2e/warm:v1"]
    config = _images_config(world, images)
    listed = world.kfb("images", "list", "--json", "--config", config)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert json.loads(listed.stdout)["per_registry"] == {world.upstream.registry: 2}
    world.upstream.mark()
    pulled = world.kfb("images", "pull", "--config", config, timeout=600)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "2 pulled" in pulled.stderr and docker("container", "inspect", CACHE, check=False).returncode == 0
    warmed = world.upstream.since_mark()
    assert summarize(warmed)["pulls"] >= 6  # 2 × (manifest, config, layer), fetched by the cache
    again = world.kfb("images", "pull", "--config", config, timeout=600)
    assert again.returncode == 0 and "0 pulled" in again.stderr and "2 already cached" in again.stderr


def test_a_cluster_after_images_pull_pulls_nothing_upstream(world):
    _up(world)
    world.upstream.mark()
    images = {"warm0": f"{world.upstream.registry}/e2e/echo:v1", "warm1": f"{world.upstream.registry}/e2e/warm:v1"}
    _run_workloads(world, images)
    assert set(images.values()) <= _running_images(world)
    assert summarize(world.upstream.since_mark())["pulls"] == 0


def test_cache_prune_empties_a_running_cache(world):
    pruned = world.kfb("cache", "prune", "--yes")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    status = json.loads(world.kfb("cache", "status", "--json").stdout)["caches"][0]
    assert status["state"] == "running" and status["repositories"] == 0
    gone = world.kfb("down", "--purge-cache", timeout=600)
    assert gone.returncode == 0, gone.stdout + gone.stderr
