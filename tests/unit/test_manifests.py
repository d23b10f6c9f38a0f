"""Manifest sources and renders: which source a path means, the render cache, the shallow clone, `render`.

Renders use the real `kubectl kustomize` on a tiny local checkout, and the clone a
real local git repository, so the argv, the cache key and the files are the real ones.
"""

from __future__ import annotations

import dataclasses

import lzma
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kfbootstrap import errors
from kfbootstrap.apps.origin import source_of
from kfbootstrap.config import load_config
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL
from kfbootstrap.manifests import NotSeparate, Renderer, clone_release, read_text, source_for, tree_fingerprint
from kfbootstrap.releases import RELEASES
from kfbootstrap.tools.runner import ShRunner
from tests.cli_helpers import run_cli

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: kubeflow\ndata: {{k: v}}\n"


class RecordingRunner(ShRunner):
    """The real runner, remembering argv: proves what ran (and what the cache spared)."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def run(self, argv, **kwargs):
        self.calls.append([str(a) for a in argv])
        return super().run(argv, **kwargs)

    def ran(self, *prefix: str) -> int:
        return sum(1 for argv in self.calls if argv[: len(prefix)] == list(prefix))


def make_checkout(root: Path) -> Path:
    """A two-component stand-in for kubeflow/manifests 26.03 (same paths, a few objects)."""
    kserve = root / RELEASES["26.03"].kserve_path
    kserve.mkdir(parents=True)
    (kserve / "cm.yaml").write_text(CONFIGMAP.format(name="kserve-config"))
    (kserve / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    example = root / "example"
    example.mkdir()
    (example / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kubeflow\n")
    (example / "cm.yaml").write_text(CONFIGMAP.format(name="example-config"))
    (example / "kustomization.yaml").write_text("resources:\n- ns.yaml\n- cm.yaml\n- ../applications/kserve/kserve\n")
    return root


def config(path: Path | None = None, **flags):
    return load_config(flags={"kubeflow.path": path, **flags}, env={}, cwd=Path("/nonexistent")).config


# ---------------------------------------------------------------- sources


def test_source_for_tells_release_checkout_file_and_directory_apart(tmp_path):
    checkout = make_checkout(tmp_path / "manifests")
    single = tmp_path / "all.yaml"
    single.write_text(CONFIGMAP.format(name="a"))
    (tmp_path / "pre").mkdir()
    assert source_for(config()).kind == "release"
    assert source_for(config()).describe() == "kubeflow/community-distribution 26.03.1"
    assert source_for(config(checkout)).kind == "checkout"
    assert source_for(config(single)).kind == "file"
    assert source_for(config(tmp_path / "pre")).kind == "directory"


def test_single_prerendered_file_holds_kubeflow_only(tmp_path):
    single = tmp_path / "example.yaml.xz"
    single.write_bytes(lzma.compress(CONFIGMAP.format(name="a").encode()))
    renderer = Renderer(config(single), ShRunner(), cache_root=tmp_path / "cache")
    render = renderer.render("kubeflow")
    assert [o["metadata"]["name"] for o in render.objects()] == ["a"]
    assert render.objects() is render.objects()  # parsed once
    with pytest.raises(NotSeparate):
        renderer.render("kserve")


def test_prerendered_directory_has_one_file_per_component(tmp_path):
    (tmp_path / "kubeflow.yaml").write_text(CONFIGMAP.format(name="k"))
    renderer = Renderer(config(tmp_path), ShRunner(), cache_root=tmp_path / "cache")
    assert renderer.render("kubeflow").objects()[0]["metadata"]["name"] == "k"
    with pytest.raises(NotSeparate):
        renderer.render("kserve")
    (tmp_path / "kubeflow.yaml").unlink()
    with pytest.raises(errors.ConfigError, match="neither a manifests checkout"):
        renderer.render("kubeflow")


def test_unreadable_prerendered_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "x.yaml.xz"
    broken.write_bytes(b"not xz")
    with pytest.raises(KfbError, match="cannot read"):
        read_text(broken)


# ---------------------------------------------------------------- kustomize renders and their cache


@needs_kubectl
def test_checkout_render_is_cached_until_a_file_changes(tmp_path):
    checkout = make_checkout(tmp_path / "manifests")
    runner = RecordingRunner()
    renderer = Renderer(config(checkout), runner, cache_root=tmp_path / "cache")
    first = renderer.render("kubeflow")
    assert sorted(o["metadata"]["name"] for o in first.objects()) == ["example-config", "kserve-config", "kubeflow"]
    assert runner.ran("kubectl", "kustomize") == 1
    # The example is built through our origin kustomization in the cache, never one written into the checkout.
    origin_dir = Path(runner.calls[-1][-1]).resolve()
    assert origin_dir.is_relative_to(tmp_path / "cache") and not (checkout / "example-origin").exists()
    assert {o["metadata"]["annotations"]["config.kubernetes.io/origin"] for o in first.objects()} >= {
        "path: " + str(Path(os.path.relpath(checkout / "example" / "cm.yaml", origin_dir))) + "\n"
    }
    assert {source_of(o, first.built_from, first.root) for o in first.objects()} == {
        "example/ns.yaml",
        "example/cm.yaml",
        "applications/kserve/kserve/cm.yaml",
    }

    again = Renderer(config(checkout), runner, cache_root=tmp_path / "cache").render("kubeflow")
    assert (again.digest, runner.ran("kubectl", "kustomize")) == (first.digest, 1)  # from the cache

    kserve = renderer.render("kserve")
    assert [o["metadata"]["name"] for o in kserve.objects()] == ["kserve-config"]
    assert runner.calls[-1][-1] == str(checkout / "applications/kserve/kserve")

    (checkout / "example" / "cm.yaml").write_text(CONFIGMAP.format(name="renamed"))
    changed = Renderer(config(checkout), runner, cache_root=tmp_path / "cache").render("kubeflow")
    assert changed.digest != first.digest and runner.ran("kubectl", "kustomize") == 3
    assert "renamed" in changed.text


@needs_kubectl
def test_failed_render_names_the_path_and_the_offline_way(tmp_path):
    checkout = make_checkout(tmp_path / "manifests")
    (checkout / "example" / "kustomization.yaml").write_text("resources:\n- missing.yaml\n")
    with pytest.raises(KfbError) as caught:
        Renderer(config(checkout), ShRunner(), cache_root=tmp_path / "cache").render("kubeflow")
    assert "rendering example failed" in caught.value.message
    assert "render --out" in caught.value.hint
    assert not list((tmp_path / "cache" / "renders").iterdir())  # nothing half-written is cached


def test_tree_fingerprint_ignores_git_and_sees_edits(tmp_path):
    make_checkout(tmp_path)
    before = tree_fingerprint(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("x")
    assert tree_fingerprint(tmp_path) == before
    (tmp_path / "example" / "extra.yaml").write_text("x")
    assert tree_fingerprint(tmp_path) != before


# ---------------------------------------------------------------- the shallow clone


@pytest.fixture
def upstream(tmp_path) -> tuple[str, str]:
    """A local repository with tag 26.03 (url, commit)."""
    repo = make_checkout(tmp_path / "upstream")
    git = ["git", "-C", str(repo), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "release"], check=True)
    subprocess.run([*git, "tag", "26.03"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return f"file://{repo}", commit


@needs_git
def test_release_is_cloned_shallowly_once_and_checked_against_the_pin(tmp_path, upstream, monkeypatch):
    url, commit = upstream
    monkeypatch.setattr("kfbootstrap.manifests.REPOSITORY", url)
    runner = RecordingRunner()
    release = dataclasses.replace(RELEASES["26.03"], commit=commit)
    dest = clone_release(release, runner, tmp_path / "cache")
    assert (dest / "example" / "kustomization.yaml").is_file()
    clone = [argv for argv in runner.calls if argv[:2] == ["git", "clone"]]
    assert len(clone) == 1
    assert clone[0][:-1] == [
        "git",
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--branch",
        "26.03",
        "-c",
        "advice.detachedHead=false",
        url,
    ]
    assert clone[0][-1].startswith(str(tmp_path / "cache" / "manifests" / "26.03.partial-"))  # renamed when complete
    assert clone_release(release, runner, tmp_path / "cache") == dest
    assert runner.ran("git", "clone") == 1  # reused

    moved = dataclasses.replace(release, commit="0" * 40)
    with pytest.raises(KfbError, match="not the pinned"):
        clone_release(moved, runner, tmp_path / "cache")


def _move_tag(url: str, tag: str) -> str:
    """Commit again upstream and move `tag` there (a re-release, or worse); returns the new commit."""
    repo = url.removeprefix("file://")
    git = ["git", "-C", repo, "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "moved"], check=True)
    subprocess.run([*git, "tag", "-f", tag], check=True, capture_output=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


@needs_git
def test_an_unpinned_tag_is_trusted_on_first_use_and_a_later_move_refused(tmp_path, upstream, monkeypatch):
    import json

    from kfbootstrap import tag_pins

    url, commit = upstream
    monkeypatch.setattr("kfbootstrap.manifests.REPOSITORY", url)
    unpinned = dataclasses.replace(RELEASES["26.03"], commit=None)  # as 26.03.1 is
    cache = tmp_path / "cache"
    dest = clone_release(unpinned, ShRunner(), cache)
    record = tag_pins.record_path(cache)
    assert json.loads(record.read_text())["26.03"]["commit"] == commit  # recorded on the first clone
    assert clone_release(unpinned, ShRunner(), cache) == dest  # same commit: fine

    moved = _move_tag(url, "26.03")
    shutil.rmtree(dest)  # the clone is gone from the cache; its record is not
    with pytest.raises(KfbError) as caught:
        clone_release(unpinned, ShRunner(), cache)
    assert caught.value.message == (
        f"kubeflow/community-distribution 26.03 is at {moved} now, but was at {commit} "
        "when first cloned here (trust on first use: the tag moved)"
    )
    assert f"remove '26.03' from {record}" in caught.value.hint
    assert not dest.exists() and not list(dest.parent.glob("26.03.partial-*"))  # nothing refused is kept

    trusted = json.loads(record.read_text())
    del trusted["26.03"]  # the user compared the commits and accepts the new one
    record.write_text(json.dumps(trusted))
    assert clone_release(unpinned, ShRunner(), cache) == dest
    assert json.loads(record.read_text())["26.03"]["commit"] == moved


@needs_git
def test_failed_clone_leaves_nothing_behind_and_says_how_to_work_offline(tmp_path, monkeypatch):
    monkeypatch.setattr("kfbootstrap.manifests.REPOSITORY", f"file://{tmp_path}/nowhere")
    with pytest.raises(KfbError) as caught:
        clone_release(RELEASES["26.03"], ShRunner(), tmp_path / "cache")
    assert "cloning kubeflow/community-distribution 26.03 failed" in caught.value.message
    assert "kubeflow.path" in caught.value.hint
    assert list((tmp_path / "cache" / "manifests").iterdir()) == []


# ---------------------------------------------------------------- `kfbootstrap render`


def test_render_writes_one_labelled_file_per_component(tmp_path, capsys, monkeypatch):
    for off in ("METALLB", "PROMETHEUS", "GRAFANA", "MODEL_REGISTRY"):  # only the kustomize renders here
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{off}", "false")
    pre = tmp_path / "pre"
    pre.mkdir()
    (pre / "kubeflow.yaml").write_text(CONFIGMAP.format(name="k") + "---\n" + CONFIGMAP.format(name="l"))
    (pre / "kserve.yaml").write_text(CONFIGMAP.format(name="s"))
    result = run_cli(capsys, "render", "--manifests", pre, "--out", tmp_path / "out")
    assert result.code == 0, result.text
    written = {p.name: list(yaml.safe_load_all(p.read_text())) for p in (tmp_path / "out").iterdir()}
    assert sorted(written) == ["kserve.yaml", "kubeflow.yaml"]
    assert [o["metadata"]["name"] for o in written["kubeflow.yaml"]] == ["k", "l"]
    labels = written["kserve.yaml"][0]["metadata"]["labels"]
    assert labels == {MANAGED_BY_LABEL: "kfbootstrap", COMPONENT_LABEL: "kserve"}
    assert "kubeflow.yaml: 2 objects" in result.out and "kserve.yaml: 1 object\n" in result.out

    # What render wrote is a valid pre-rendered source, and rendering it again changes nothing.
    again = run_cli(capsys, "render", "--manifests", tmp_path / "out", "--out", tmp_path / "again")
    assert again.code == 0
    assert (tmp_path / "again" / "kubeflow.yaml").read_text() == (tmp_path / "out" / "kubeflow.yaml").read_text()


def test_render_to_stdout_and_disabled_components(tmp_path, capsys, monkeypatch):
    single = tmp_path / "all.yaml"
    single.write_text(CONFIGMAP.format(name="k"))
    monkeypatch.setenv("KFBOOTSTRAP_COMPONENTS__KSERVE", "false")
    monkeypatch.setenv("KFBOOTSTRAP_COMPONENTS__MODEL_REGISTRY", "false")  # a single file has no overlays
    result = run_cli(capsys, "render", "--manifests", single)
    assert result.code == 0
    docs = [d for d in yaml.safe_load_all(result.out) if d]
    assert [d["metadata"]["name"] for d in docs] == ["k"]
    assert "kserve" not in result.err


def test_render_of_a_directory_without_kubeflow_yaml_is_a_usage_error(tmp_path, capsys):
    result = run_cli(capsys, "render", "--manifests", tmp_path)
    assert result.code == errors.USAGE
    assert "render --out DIR" in result.err


def test_down_never_deletes_a_cluster_it_did_not_create(capsys, tmp_path, monkeypatch):
    result = run_cli(capsys, "down", "--context", "someone-elses")
    assert result.code == errors.USAGE
    assert "--keep-cluster" in result.err
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    result = run_cli(capsys, "down", "--keep-cluster", "--context", "someone-elses")
    assert result.code == errors.FAILED and "someone-elses" in result.err
