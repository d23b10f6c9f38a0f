"""Where Kubeflow's manifests come from, and their renders, cached by a hash of the inputs.

Three sources, decided from `kubeflow.path` before anything runs:

- nothing set: the pinned kubeflow/community-distribution release (ex kubeflow/manifests), cloned once (`git clone --depth 1
  --branch TAG`) into the cache directory and reused;
- a directory with the release's `example/kustomization.yaml`: a local checkout;
- a YAML file (optionally .xz), or a directory of `<component>.yaml` files as
  `kfbootstrap render --out DIR` writes them: pre-rendered, for air-gapped machines.

Renders of a kustomization are cached under the cache directory by a key made of
the release tag and commit (or a fingerprint of a local checkout), the
kustomization's path and the kustomize version, so an unchanged re-run does not run
kustomize (15-25 s for the example) again.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kfbootstrap import paths
from kfbootstrap.config import Config
from kfbootstrap.errors import CommandFailed, ConfigError, KfbError
from kfbootstrap.releases import RELEASES, REPOSITORY, REPOSITORY_NAME, Release
from kfbootstrap.tools.runner import Runner

log = logging.getLogger("kfbootstrap.manifests")

MODEL_REGISTRY_OVERLAYS = {"db": "overlays/db", "istio": "options/istio", "csi": "options/csi"}
SourceKind = Literal["release", "checkout", "file", "directory"]
_YAML_SUFFIXES = (".yaml", ".yml", ".yaml.xz", ".yml.xz")


@dataclass(frozen=True)
class ManifestSource:
    """Where the manifests come from (decided without side effects)."""

    kind: SourceKind
    release: Release
    path: Path | None = None  # checkout root, file or directory; None for a release not cloned yet

    def describe(self) -> str:
        if self.kind == "release":
            return f"{REPOSITORY_NAME} {self.release.tag}"
        if self.kind == "checkout":
            return f"manifests checkout {self.path}"
        return f"pre-rendered {self.path}"


def source_for(config: Config) -> ManifestSource:
    release = RELEASES[config.kubeflow.version]
    path = config.kubeflow.path
    if path is None:
        return ManifestSource("release", release)
    path = path.expanduser().resolve()
    if path.is_file():
        return ManifestSource("file", release, path)
    if (path / release.example_path / "kustomization.yaml").is_file():
        return ManifestSource("checkout", release, path)
    return ManifestSource("directory", release, path)


# Where a render's origin annotations are relative to unless it says otherwise: a kustomization made
# beside `example` (kfbootstrap/apps/origin.py reads them; the renderer, below it, owns the layout).
ORIGIN_DIR = "example-origin"


@dataclass
class Render:
    """The YAML of one component, its sha256 and where it came from; parsed at most once."""

    component: str
    text: str
    origin: str
    digest: str = ""
    # The directory of the kustomization that was built and the checkout root: what the
    # render's origin annotations are relative to (kfbootstrap/apps/origin.py).
    built_from: str = ORIGIN_DIR
    root: str = "."
    _objects: list[dict[str, Any]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def objects(self) -> list[dict[str, Any]]:
        if self._objects is None:
            from kfbootstrap.kube.objects import parse_manifests

            self._objects = parse_manifests(self.text, self.origin)
        return self._objects


class NotSeparate(Exception):
    """The component has no render of its own in this source (a single pre-rendered file holds everything)."""


class Renderer:
    """Renders components of one ManifestSource, fetching and caching as needed."""

    def __init__(self, config: Config, runner: Runner, cache_root: Path | None = None):
        self.source = source_for(config)
        self.runner = runner
        self.cache_root = cache_root or paths.cache_dir()

    def render(self, component: str) -> Render:
        """The component's render; raises NotSeparate when the source has none for it."""
        kind = self.source.kind
        if kind == "file":
            if component != "kubeflow":
                raise NotSeparate(
                    "kubeflow.path is a single pre-rendered file; what it holds of "
                    f"{component} is applied with Kubeflow"
                )
            return Render(component, read_text(self.source.path), str(self.source.path))  # type: ignore[arg-type]
        if kind == "directory":
            return self._prerendered(component)
        root = self.checkout()
        if component == "kubeflow":
            return self.render_with_origin(root)
        return self.render_kustomization(root, self.source.release.component_path(component), component)

    def render_with_origin(self, root: Path) -> Render:
        """The `example` rendered with kustomize's origin annotations, so applications can be chosen from it.

        The kustomization asking for them (`buildMetadata: [originAnnotations]`, resources:
        the example) is written into our cache, never into the user's checkout; kustomize
        accepts a relative path to a directory outside the kustomization's own.
        """
        example = root / self.source.release.example_path
        if not (example / "kustomization.yaml").is_file() and not (example / "kustomization.yml").is_file():
            raise KfbError(
                f"{example} has no kustomization.yaml",
                hint=f"is {root} a kubeflow/manifests checkout of release {self.source.release.tag}? "
                "set kubeflow.version to match it",
            )
        directory = paths.ensure(self.cache_root / "origin" / _sha256(str(root.resolve()))[:16])
        resource = os.path.relpath(example.resolve(), directory.resolve()).replace(os.sep, "/")
        text = (
            "# written by kfbootstrap: render the example with each object's source path\n"
            f"buildMetadata: [originAnnotations]\nresources:\n- {resource}\n"
        )
        kustomization = directory / "kustomization.yaml"
        if not kustomization.is_file() or kustomization.read_text(encoding="utf-8") != text:
            _write_atomically(kustomization, text)
        relative = os.path.relpath(directory.resolve(), root.resolve()).replace(os.sep, "/")
        render = self.render_kustomization(root, relative, "kubeflow", label=self.source.release.example_path)
        render.built_from, render.root = directory.resolve().as_posix(), root.resolve().as_posix()
        return render

    def is_local(self) -> bool:
        """Can we render without the network (a local source, or the release already cloned)?"""
        if self.source.kind != "release":
            return True
        return (self.cache_root / "manifests" / self.source.release.tag / ".git").is_dir()

    def checkout(self) -> Path:
        """The manifests checkout: the user's, or our cached clone of the release tag."""
        if self.source.kind == "checkout":
            return self.source.path  # type: ignore[return-value]
        if self.source.kind != "release":
            raise KfbError(
                f"{self.source.describe()} is not a kustomize checkout",
                hint=f"point kubeflow.path at a {REPOSITORY_NAME} checkout to render kustomizations",
            )
        return clone_release(self.source.release, self.runner, self.cache_root)

    def render_kustomization(self, root: Path, relative: str, component: str, label: str | None = None) -> Render:
        """`kustomize build root/relative`, from the cache when the inputs are unchanged (`label`: its name in messages)."""
        from kfbootstrap.tools.kustomize import Kustomize

        kustomize = Kustomize(self.runner)
        directory = root / relative
        if not (directory / "kustomization.yaml").is_file() and not (directory / "kustomization.yml").is_file():
            raise KfbError(
                f"{directory} has no kustomization.yaml",
                hint=f"is {root} a {REPOSITORY_NAME} checkout of release {self.source.release.tag}? "
                "set kubeflow.version to match it",
            )
        key = "\n".join([self._inputs_key(root), relative, kustomize.version()])
        cached = paths.ensure(self.cache_root / "renders") / f"{component}-{_sha256(key)[:24]}.yaml"
        if cached.is_file():
            log.info("render of %s from cache %s", relative, cached)
            return Render(
                component, cached.read_text(encoding="utf-8"), f"{label or relative} (cached render {cached.name})"
            )
        try:
            text = kustomize.build(directory)
        except CommandFailed as exc:
            raise KfbError(
                f"rendering {label or relative} failed: {exc.message}",
                hint="the example fetches remote bases over git, so it needs the network; offline, render on "
                "a connected machine with `kfbootstrap render --out DIR` and set kubeflow.path to DIR",
            ) from None
        _write_atomically(cached, text)
        return Render(component, text, label or relative)

    def _inputs_key(self, root: Path) -> str:
        """What identifies the render's inputs: tag + commit for our clone, a file fingerprint for a checkout."""
        if self.source.kind == "release":
            from kfbootstrap.tools.git import Git

            return f"release {self.source.release.tag} {Git(self.runner).head(root)}"
        return f"checkout {root} {tree_fingerprint(root)}"

    def _prerendered(self, component: str) -> Render:
        directory = self.source.path
        assert directory is not None
        for suffix in _YAML_SUFFIXES:
            candidate = directory / f"{component}{suffix}"
            if candidate.is_file():
                return Render(component, read_text(candidate), str(candidate))
        if component == "kubeflow":
            raise ConfigError(
                f"kubeflow.path {directory} is neither a manifests checkout (no "
                f"{self.source.release.example_path}/kustomization.yaml) nor holds kubeflow.yaml",
                hint="write pre-rendered files with `kfbootstrap render --out DIR`, or point kubeflow.path "
                "at a single YAML file",
            )
        raise NotSeparate(f"{directory} has no {component}.yaml")


def clone_release(release: Release, runner: Runner, cache_root: Path) -> Path:
    """Our shallow clone of the release tag, made once and reused, at the commit the tag must be at
    (pinned in releases.py, or the first one we saw: kfbootstrap/tag_pins.py)."""
    from kfbootstrap import tag_pins
    from kfbootstrap.tools.git import Git

    git = Git(runner)
    dest = paths.ensure(cache_root / "manifests") / release.tag
    if not (dest / ".git").is_dir():
        partial = dest.with_name(f"{release.tag}.partial-{os.getpid()}")
        try:
            git.shallow_clone(REPOSITORY, release.tag, partial)
            tag_pins.verify(release, git.head(partial), partial, cache_root)
        except CommandFailed as exc:
            _remove_tree(partial)
            raise KfbError(
                f"cloning {REPOSITORY_NAME} {release.tag} failed: {exc.message}",
                hint="check the network; offline, set kubeflow.path to a local checkout or a pre-rendered "
                "file (`kfbootstrap render --out DIR` on a connected machine)",
            ) from None
        except KfbError:
            _remove_tree(partial)  # a refused commit never gets the real name either
            raise
        partial.rename(dest)  # only a complete, verified clone ever gets the real name
    tag_pins.verify(release, git.head(dest), dest, cache_root)
    return dest


def tree_fingerprint(root: Path) -> str:
    """sha256 over (path, size, mtime) of every file outside .git: any edit changes it, in ~0.1 s."""
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def read_text(path: Path) -> str:
    """A YAML file's text; .xz files are decompressed."""
    try:
        data = path.read_bytes()
        if path.suffix == ".xz":
            data = lzma.decompress(data)
        return data.decode("utf-8")
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise KfbError(f"cannot read {path}: {exc}", hint="check the file given in kubeflow.path") from None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so an interrupted render is never reused."""
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def renders_for(config: Config) -> list[str]:
    """Every render `up` applies with this config (the files `render --out` writes), in apply order."""
    from kfbootstrap.components import selected

    release = config.release
    wanted = [name for component in selected(config.components.enabled()) for name in component.renders]
    if release.model_registry.in_example:  # Kubeflow Hub comes with example (26.03.1): nothing more to render
        wanted = [name for name in wanted if not name.startswith("model-registry-")]
    return [name for name in wanted if name != "model-registry-csi" or config.model_registry.csi]


def render_named(config: Config, runner: Runner, name: str) -> Render:
    """One render by its `render --out` name: a kustomization of the manifests, or a model registry overlay."""
    if name.startswith("model-registry-"):
        return render_overlay(config, runner, name.removeprefix("model-registry-"))
    return Renderer(config, runner).render(name)


def render_overlay(config: Config, runner: Runner, overlay: str) -> Render:
    """One model registry overlay from model_registry.path, else from Kubeflow's manifests source.

    Upstream applies it by hand with -n kubeflow (it is not part of `example`).
    """
    if config.model_registry.path is not None:
        config = config.model_copy(
            update={"kubeflow": config.kubeflow.model_copy(update={"path": config.model_registry.path})}
        )
    renderer = Renderer(config, runner)
    component = f"model-registry-{overlay}"
    relative = f"{renderer.source.release.model_registry.path}/{MODEL_REGISTRY_OVERLAYS[overlay]}"
    if renderer.source.kind in ("directory", "file"):
        try:
            return renderer.render(component)
        except NotSeparate:
            raise ConfigError(
                f"{renderer.source.describe()} has no {component}.yaml[.xz]",
                hint=f"set model_registry.path to a {REPOSITORY_NAME} checkout or to a directory "
                f"holding {component}.yaml (`kubectl kustomize {relative}`), or write them all "
                "with `kfbootstrap render --out DIR`",
            ) from None
    return renderer.render_kustomization(renderer.checkout(), relative, component)
