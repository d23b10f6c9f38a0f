"""Where each object of a render came from: kustomize's `config.kubernetes.io/origin` annotation.

Rendered with `buildMetadata: [originAnnotations]`, every object carries its source:
`path:` of the file it was read from, `repo:` + `ref:` for a remote base, or
`configuredIn:` for objects a generator made (ConfigMaps, Secrets). Paths are
relative to the kustomization that was built; we turn them into paths relative to
the checkout root, which is what the catalog (kfbootstrap/release_parts.py) speaks.
"""

from __future__ import annotations

import posixpath
from typing import Any, Mapping

from kfbootstrap.manifests import ORIGIN_DIR

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


class NoOrigin(ValueError):
    """An object without (or with an unreadable) origin annotation: the render was made without buildMetadata."""


def source_of(obj: Mapping[str, Any], built_from: str = ORIGIN_DIR, root: str = ".") -> str:
    """The object's source, relative to the checkout root (`remote:<repo>` for remote bases).

    `built_from` is the directory of the kustomization that was built and `root` the
    checkout root, both absolute or both relative to the same place: by default the
    layout of a render made beside `example` (paths like ../applications/...).
    """
    import yaml

    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(ORIGIN_ANNOTATION)
    if not text:
        raise NoOrigin(_name(obj))
    try:
        origin = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # ~700 per render: the C loader
    except yaml.YAMLError:
        raise NoOrigin(_name(obj)) from None
    if not isinstance(origin, dict):
        raise NoOrigin(_name(obj))
    if origin.get("repo"):
        return f"remote:{origin['repo']}"
    path = origin.get("path") or origin.get("configuredIn")
    if not path:
        raise NoOrigin(_name(obj))
    return posixpath.relpath(posixpath.normpath(posixpath.join(built_from, str(path))), root)


def without_origin(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """`obj` without the origin annotation (a shallow copy; the object itself is shared and left as is).

    We strip it before applying: it names paths of our cache directory, would differ
    between a clone and a checkout (a change on every object for nothing), and is
    ~100 bytes on each of 700 objects in etcd. The selection is recorded in the
    kfbootstrap.dev/app label instead.
    """
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if ORIGIN_ANNOTATION not in annotations:
        return obj
    meta = dict(obj["metadata"])
    rest = {k: v for k, v in annotations.items() if k != ORIGIN_ANNOTATION}
    if rest:
        meta["annotations"] = rest
    else:
        meta.pop("annotations")
    return {**obj, "metadata": meta}


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')}/{where}{meta.get('name')}"
