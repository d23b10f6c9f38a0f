"""Point every node of a Kind cluster at the caches: one hosts.toml per cached registry.

containerd's CRI reads hosts.toml from the directories its registry `config_path` lists (a
colon-separated list), afresh on every pull, so no restart is needed. Whether that list names
/etc/containerd/certs.d depends on the node: containerd 2.2 and newer default it to
"/etc/containerd/certs.d:/etc/docker/certs.d" (kind v0.32's nodes run 2.3), older ones default
to nothing (kind v0.30's nodes run 2.1: without a config_path from the kind config they read no
hosts.toml). So each node's containerd is asked for the config in force (`containerd config
dump`) and for its version, rather than reading its config.toml: the 2.2+ default is applied
when the CRI plugin starts and the dump still shows an empty config_path.
"""

from __future__ import annotations

import posixpath
import re
import sys
from dataclasses import dataclass

from kfbootstrap.cache.hosts_toml import CERTS_DIR, hosts_path, hosts_toml
from kfbootstrap.cache.registries import Mirror
from kfbootstrap.tools.docker import Containers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 installs tomli (pyproject.toml)
    import tomli as tomllib


# Where the CRI's registry settings live, by the dump's config version: containerd 1.6/1.7
# write version 2; 2.0 and 2.1 write 3; 2.2 and later write 4 (and newer ones may write more),
# all with the images plugin that 2.0 split off.
def _registry_plugin(version: int) -> str | None:
    if version == 2:
        return "io.containerd.grpc.v1.cri"
    return "io.containerd.cri.v1.images" if version >= 3 else None


@dataclass(frozen=True)
class CertsD:
    """Does a node's containerd read hosts.toml from CERTS_DIR?"""

    node: str
    reads: bool | None  # None: cannot tell, `why` says why
    why: str = ""


# containerd 2.2 and later read this list when the CRI names neither a config_path nor a mirror.
# The default is applied when the CRI plugin starts, so `containerd config dump` still shows ''.
_DEFAULT_CONFIG_PATH = "/etc/containerd/certs.d:/etc/docker/certs.d"
_FIRST_WITH_DEFAULT = (2, 2)


def reads_certs_d(dump: str, containerd_version: str = "") -> bool:
    """Does the CRI of this `containerd config dump` read hosts.toml from CERTS_DIR? An empty or
    missing config_path reads nothing, unless `containerd --version` says 2.2 or later and no
    mirror is set: then the built-in default list applies. ValueError, saying why, for text we
    cannot read."""
    registry = _registry_settings(dump)
    config_path = registry.get("config_path") or ""
    if not isinstance(config_path, str):
        raise ValueError(f"its config dump has config_path {config_path!r}, not a string")
    if not config_path and not registry.get("mirrors") and _has_default_config_path(containerd_version):
        config_path = _DEFAULT_CONFIG_PATH
    return any(posixpath.normpath(directory) == CERTS_DIR for directory in config_path.split(":") if directory)


def _registry_settings(dump: str) -> dict:
    try:
        config = tomllib.loads(dump)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"its config dump is not TOML ({exc})") from None
    version = config.get("version")
    plugin = _registry_plugin(version) if isinstance(version, int) else None
    if plugin is None:
        raise ValueError(f"its config dump has version {version!r}, not 2 or later")
    cri = (config.get("plugins") or {}).get(plugin)
    if not isinstance(cri, dict):
        raise ValueError(f"its config dump has no {plugin} plugin")
    registry = cri.get("registry") or {}
    return registry if isinstance(registry, dict) else {}


def _has_default_config_path(version_line: str) -> bool:
    """`containerd github.com/containerd/containerd/v2 v2.3.1 <revision>` → 2.3 ≥ 2.2."""
    match = re.search(r"\sv?(\d+)\.(\d+)\.\d+", version_line)
    if match is None:
        return False
    return (int(match.group(1)), int(match.group(2))) >= _FIRST_WITH_DEFAULT


def check(containers: Containers, node: str) -> CertsD:
    """Ask the node's containerd (the config it runs with, defaults included, and its version)."""
    result = containers.containerd_config_dump(node)
    if not result.ok:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        return CertsD(
            node, None, f"`containerd config dump` failed: {said[-1] if said else f'exit {result.exit_code}'}"
        )
    version = containers.containerd_version(node)
    try:
        return CertsD(node, reads_certs_d(result.stdout, version.stdout if version.ok else ""))
    except ValueError as exc:
        return CertsD(node, None, str(exc))


def configured(containers: Containers, node: str, mirrors: list[Mirror]) -> bool:
    """Does the node already have exactly our hosts.toml for every mirror?"""
    return all(containers.read_file(node, hosts_path(m)) == hosts_toml(m) for m in mirrors)


def configure(containers: Containers, node: str, mirrors: list[Mirror]) -> list[str]:
    """Write each mirror's hosts.toml that is missing or different; the registries written."""
    written = []
    for mirror in mirrors:
        text = hosts_toml(mirror)
        if containers.read_file(node, hosts_path(mirror)) != text:
            containers.write_file(node, hosts_path(mirror), text)
            written.append(mirror.registry)
    return written
