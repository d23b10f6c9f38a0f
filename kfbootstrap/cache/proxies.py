"""The cache containers on the host's Docker: read what exists, compare it with what is wanted, then act.

Each cached upstream gets one CNCF Distribution registry in proxy mode, named and
labelled after its registry (registries.py), storing into a Docker volume of the
same name, so `down` and a new cluster find the cached layers again. Its API and
debug ports are published on 127.0.0.1 only (for `images pull` and `cache status`);
the nodes reach it by name on the kind network.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Callable

from kfbootstrap.cache.credentials import Credential
from kfbootstrap.cache.registries import DEBUG_PORT, GENERATION_LABEL, LABEL, PROXY_PORT, Mirror
from kfbootstrap.errors import CommandFailed, KfbError
from kfbootstrap.tools.docker import Containers, ContainerState

_STORAGE = "/var/lib/registry"  # where the Distribution image keeps its data
_USER_ENV, _SECRET_ENV = "REGISTRY_PROXY_USERNAME", "REGISTRY_PROXY_PASSWORD"


@dataclass(frozen=True)
class Wanted:
    """The cache container one mirror should have."""

    mirror: Mirror
    image: str
    credential: Credential | None

    def env(self) -> dict[str, str]:
        """Settings of the registry, as its REGISTRY_* overrides of the image's own config file."""
        return {
            "REGISTRY_PROXY_REMOTEURL": self.mirror.remote,
            "REGISTRY_PROXY_TTL": "0",  # keep layers until `cache prune`: a cache that expires fails offline
            "REGISTRY_HTTP_DEBUG_ADDR": f":{DEBUG_PORT}",  # /debug/vars reports hits and misses
        }

    def secret_env(self) -> dict[str, str]:
        if self.credential is None:
            return {}
        return {_USER_ENV: self.credential.username, _SECRET_ENV: self.credential.secret}


@dataclass(frozen=True)
class Outcome:
    mirror: Mirror
    action: str  # created, reused, started, replaced
    detail: str = ""


def differences(state: ContainerState, wanted: Wanted) -> list[str]:
    """Why an existing container is not the one wanted (empty: it is). Never names a secret."""
    found: list[str] = []
    if state.image != wanted.image:
        found.append(f"image {state.image} instead of {wanted.image}")
    for key, value in wanted.env().items():
        if state.env.get(key) != value:
            found.append(f"{key}={state.env.get(key, '(unset)')} instead of {value}")
    if wanted.mirror.volume not in state.mounts:
        found.append(f"storage not in volume {wanted.mirror.volume}")
    unpublished = [f"{p}/tcp" for p in (PROXY_PORT, DEBUG_PORT) if f"{p}/tcp" not in state.published]
    if unpublished:
        found.append(f"port {', '.join(unpublished)} not published on 127.0.0.1")
    secrets = wanted.secret_env()
    if any(state.env.get(k) != secrets.get(k) for k in (_USER_ENV, _SECRET_ENV)):
        found.append("registry credentials changed")
    return found


def ensure(
    containers: Containers, wanted: Wanted, network: str | None, note: Callable[[str], None] = lambda _: None
) -> Outcome:
    """Make the mirror's cache container exist, run as wanted, and sit on `network` (when given)."""
    mirror = wanted.mirror
    state = containers.inspect(mirror.container)
    action, detail = "reused", ""
    if state is not None:
        why = differences(state, wanted)
        if why:
            note(f"replacing cache container {mirror.container}: {'; '.join(why)} (its cached layers are kept)")
            containers.remove(mirror.container)
            state, action, detail = None, "replaced", "; ".join(why)
    if state is None:
        _create(containers, wanted, network)
        action = "created" if action == "reused" else action
    else:
        if not state.running:
            containers.start(mirror.container)
            action, detail = "started", f"was {state.status}"
        if network and network not in state.networks:
            containers.connect(network, mirror.container)
    wait_ready(containers, mirror)
    return Outcome(mirror, action, detail)


def _create(containers: Containers, wanted: Wanted, network: str | None) -> None:
    mirror = wanted.mirror
    if not containers.volume_exists(mirror.volume):
        # A fresh id per volume: `images pull` keys its record of finished images by it, so a purged and
        # re-made cache is warmed again (Docker's CreatedAt moves when the volume is first written).
        containers.volume_create(mirror.volume, {GENERATION_LABEL: uuid.uuid4().hex})
    options = [
        "--name",
        mirror.container,
        "--restart",
        "unless-stopped",
        "--label",
        f"{LABEL}={mirror.registry}",
        "-v",
        f"{mirror.volume}:{_STORAGE}",
        "-p",
        f"127.0.0.1::{PROXY_PORT}",
        "-p",
        f"127.0.0.1::{DEBUG_PORT}",
    ]
    if network:
        options += ["--network", network]
    for key, value in wanted.env().items():
        options += ["-e", f"{key}={value}"]
    secrets = wanted.secret_env()
    for key in secrets:
        options += ["-e", key]  # the value comes from docker's environment, not from argv
    try:
        containers.run_detached(options, wanted.image, env=secrets)
    except CommandFailed as exc:
        raise KfbError(
            f"starting the cache for {mirror.registry} failed: {exc.message}",
            hint=f"is the image {wanted.image} on this machine (`docker image inspect {wanted.image}`)? "
            "Offline, set cache.image to a local Distribution registry image, "
            "or turn the cache off with cache.enabled: false",
        ) from None


def wait_ready(containers: Containers, mirror: Mirror, timeout: float = 30.0) -> None:
    """Until the registry answers /v2/ on its published port: the nodes' first pulls must find it up."""
    from kfbootstrap.cache.client import RegistryClient, RegistryUnreachable

    deadline = time.monotonic() + timeout
    last = "no published port yet"
    while time.monotonic() < deadline:
        port = containers.host_port(mirror.container, PROXY_PORT)
        if port is not None:
            try:
                RegistryClient(f"http://127.0.0.1:{port}").ping()
                return
            except RegistryUnreachable as exc:
                last = str(exc)
        time.sleep(0.5)
    raise KfbError(
        f"the cache for {mirror.registry} ({mirror.container}) did not answer within {timeout:.0f}s: {last}",
        hint=f"see `docker logs {mirror.container}`; pulls still work without it (straight from the upstream)",
    )


def purge(containers: Containers, mirror: Mirror) -> list[str]:
    """Remove the mirror's container and its volume; what was removed."""
    removed = []
    if containers.inspect(mirror.container) is not None:
        containers.remove(mirror.container)
        removed.append(f"container {mirror.container}")
    if containers.volume_remove(mirror.volume):
        removed.append(f"volume {mirror.volume}")
    return removed
