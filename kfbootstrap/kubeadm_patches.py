"""Kind's kubeadmConfigPatches in the form the node's kubeadm reads.

kind v0.32 writes kubeadm's config as v1beta4 for Kubernetes >= 1.36 and as v1beta3 below.
v1beta4 turned every `extraArgs` (and `kubeletExtraArgs`) from a map into a list of
{name, value}. Users (and our kind-config.yaml) may write either form: we convert to the one
the node image's kubeadm reads, instead of relying on kind to cope with the other. (kind
v0.32.0 on our test ground did create a v1.36.3 cluster from the map form too, args applied:
tests/e2e/test_kind_up.py therefore checks the file we generate, not only the cluster.)

Also: which node images' kubelet refuses a cgroup v1 host unless told `failCgroupV1: false`,
and whether a kind config tells it so.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

V1BETA4_FROM = (1, 36)

# Where kubeadm keeps argument maps, per configuration kind.
_ARG_PATHS = {
    "ClusterConfiguration": (
        ("apiServer", "extraArgs"),
        ("controllerManager", "extraArgs"),
        ("scheduler", "extraArgs"),
        ("etcd", "local", "extraArgs"),
    ),
    "InitConfiguration": (("nodeRegistration", "kubeletExtraArgs"),),
    "JoinConfiguration": (("nodeRegistration", "kubeletExtraArgs"),),
}


def node_version(node_image: str) -> tuple[int, int] | None:
    """(major, minor) from an image tag such as kindest/node:v1.36.1@sha256:…; None when the tag names none."""
    tag = node_image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    match = re.match(r"v?(\d+)\.(\d+)", tag)
    return (int(match.group(1)), int(match.group(2))) if match else None


def wants_list_form(node_image: str) -> bool:
    """An unknown version is taken as current (list form), as kind assumes the latest API."""
    version = node_version(node_image)
    return version is None or version >= V1BETA4_FROM


def _as_list(args: Any) -> Any:
    if isinstance(args, dict):
        return [{"name": str(k), "value": str(v)} for k, v in args.items()]
    return args


def _as_map(args: Any) -> Any:
    if isinstance(args, list) and all(isinstance(a, dict) and "name" in a for a in args):
        return {str(a["name"]): str(a.get("value", "")) for a in args}
    return args


def _convert_doc(doc: Any, to_list: bool) -> Any:
    if not isinstance(doc, dict):
        return doc
    for path in _ARG_PATHS.get(str(doc.get("kind")), ()):
        parent: Any = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = (_as_list if to_list else _as_map)(parent[path[-1]])
    return doc


def adapt_patch(patch: str, to_list: bool) -> str:
    """One patch string in the wanted form; text we cannot read is left for kind to judge."""
    try:
        docs = list(yaml.safe_load_all(patch))
    except yaml.YAMLError:
        return patch
    converted = [_convert_doc(doc, to_list) for doc in docs]
    return yaml.safe_dump_all(converted, sort_keys=False)


def adapt_kind_config(data: dict[str, Any], node_image: str) -> None:
    """Convert every kubeadmConfigPatches entry (cluster-wide and per node) in place."""
    to_list = wants_list_form(node_image)
    for holder in [data, *(data.get("nodes") or [])]:
        patches = holder.get("kubeadmConfigPatches") if isinstance(holder, dict) else None
        if isinstance(patches, list):
            holder["kubeadmConfigPatches"] = [adapt_patch(p, to_list) if isinstance(p, str) else p for p in patches]


# From Kubernetes 1.35 kubelet refuses to start on a cgroup v1 host unless its KubeletConfiguration
# says `failCgroupV1: false` (the field exists since 1.31; its default turned true in 1.35).
FAIL_CGROUP_V1_FROM = (1, 35)
KUBELET_CGROUP_V1_PATCH = "kind: KubeletConfiguration\nfailCgroupV1: false\n"


def refuses_cgroup_v1(node_image: str) -> bool:
    """Does this node image's kubelet refuse cgroup v1 unless told otherwise? An unknown version is
    taken as current (yes), as wants_list_form does."""
    version = node_version(node_image)
    return version is None or version >= FAIL_CGROUP_V1_FROM


def allows_cgroup_v1(data: dict[str, Any]) -> bool:
    """Does this kind config set `failCgroupV1: false` for every kubelet: in a cluster-wide
    kubeadmConfigPatches entry, or in one of every node's own?"""
    if _patches_allow_cgroup_v1(data.get("kubeadmConfigPatches")):
        return True
    nodes = [node for node in data.get("nodes") or [] if isinstance(node, dict)]
    return bool(nodes) and all(_patches_allow_cgroup_v1(node.get("kubeadmConfigPatches")) for node in nodes)


def _patches_allow_cgroup_v1(patches: Any) -> bool:
    for patch in patches if isinstance(patches, list) else []:
        try:
            docs = list(yaml.safe_load_all(patch)) if isinstance(patch, str) else []
        except yaml.YAMLError:
            continue
        if any(
            isinstance(doc, dict) and doc.get("kind") == "KubeletConfiguration" and doc.get("failCgroupV1") is False
            for doc in docs
        ):
            return True
    return False
