"""Registry credentials for the caches: from the environment first, then Docker's own config.

A cache logs in to its upstream (Docker Hub allows 10 anonymous pulls an hour),
so the credentials go to the cache container's environment and nowhere else: not
into argv, the log, a node or the cluster. Sources, first match wins:

- KFB_CACHE_AUTH_<REGISTRY>=user:token, the registry upper-cased with every
  non-alphanumeric character as `_` (KFB_CACHE_AUTH_DOCKER_IO, KFB_CACHE_AUTH_GHCR_IO);
- for Docker Hub also DOCKERHUB_USERNAME + DOCKERHUB_TOKEN;
- Docker's config.json ($DOCKER_CONFIG or ~/.docker): `auths`, `credHelpers`, `credsStore`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from kfbootstrap.image_refs import DOCKER_HUB
from kfbootstrap.tools.runner import Runner

# Docker keeps Docker Hub's login under its v1 index URL.
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credential:
    username: str
    secret: str
    source: str  # where it came from, safe to show ("environment KFB_CACHE_AUTH_DOCKER_IO")

    def __repr__(self) -> str:  # a stray print or log line must not carry the secret
        return f"Credential(username={self.username!r}, source={self.source!r})"


def env_name(registry: str) -> str:
    return "KFB_CACHE_AUTH_" + re.sub(r"[^A-Za-z0-9]", "_", registry).upper()


def lookup(
    registry: str, runner: Runner, env: Mapping[str, str] | None = None, docker_config: Path | None = None
) -> Credential | None:
    env = os.environ if env is None else env
    return _from_env(registry, env) or _from_docker_config(registry, runner, docker_config or _docker_config_path(env))


def _from_env(registry: str, env: Mapping[str, str]) -> Credential | None:
    name = env_name(registry)
    value = env.get(name, "")
    if ":" in value:
        username, _, secret = value.partition(":")
        return Credential(username, secret, f"environment {name}")
    if registry == DOCKER_HUB and env.get("DOCKERHUB_USERNAME") and env.get("DOCKERHUB_TOKEN"):
        return Credential(env["DOCKERHUB_USERNAME"], env["DOCKERHUB_TOKEN"], "environment DOCKERHUB_USERNAME/TOKEN")
    return None


def _docker_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def _keys(registry: str) -> tuple[str, ...]:
    return _DOCKER_HUB_KEYS if registry == DOCKER_HUB else (registry, f"https://{registry}", f"http://{registry}")


def _from_docker_config(registry: str, runner: Runner, path: Path) -> Credential | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no login is the common case, and an unreadable file is no reason to stop `up`
    if not isinstance(config, dict):
        return None
    for key in _keys(registry):
        helper = (config.get("credHelpers") or {}).get(key)
        if helper:
            return _from_helper(helper, key, runner)
        entry = (config.get("auths") or {}).get(key) or {}
        if entry.get("auth"):
            try:
                username, _, secret = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if username and secret:
                return Credential(username, secret, f"{path} auths")
    store = config.get("credsStore")
    if store:
        for key in _keys(registry):
            found = _from_helper(store, key, runner)
            if found:
                return found
    return None


def _from_helper(helper: str, server: str, runner: Runner) -> Credential | None:
    from kfbootstrap.tools.docker import credential_helper_get

    answer = credential_helper_get(runner, helper, server)
    if answer is None:
        return None
    username, secret = answer
    return Credential(username, secret, f"docker-credential-{helper}")
