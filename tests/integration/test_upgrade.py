"""Upgrading 26.03 to 26.03.1 with `up` on a real control plane, users' objects on it.

One cluster of its own: `up` installs 26.03; a user makes a Profile and, in its namespace,
a Notebook, an InferenceService, a PVC with a ConfigMap standing for its content (the
testbed runs no pods, so no file is ever written into a volume: what can be proved is
that the claim and its object are neither deleted nor changed), an Argo Workflow (what a
pipeline run is made of) and an InferenceModel (its CRD is gone in 26.03.1, so it must
be kept). Then:

- `up --dry-run --kubeflow-version 26.03.1` prints the plan; `up` converges in one run and
  does what the plan said: what it removed is gone, what it re-created was re-created,
  what it kept is there; nothing else of 26.03 that 26.03.1 lacks is left (listed by label);
- a second `up` changes nothing; `up` with 26.03 again is refused (exit 2);
- `--allow-downgrade` goes back to 26.03, an upgrade is killed half-way, and `up` finishes it.

Times are printed; KFB_BENCH_UPGRADE=1 adds a fresh 26.03.1 install on a second testbed to compare
with (kept out of CI's time).

The testbed has no webhook servers, so both renders lose their webhook configurations
in this test's input (never in the product). No controller runs either: the test stands
in for the profile controller (it creates a Profile's namespace).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfbootstrap import components
from kfbootstrap.kube.applyset import PART_OF_LABEL, applyset_id, parent_name
from kfbootstrap.kube.discovery import Discovery, KindNotServed, scoped_ref
from kfbootstrap.kube.objects import COMPONENT_LABEL, dump_manifests, ref_of
from kfbootstrap.kube.rest import METADATA_LIST_ACCEPT, KubeRest
from kfbootstrap.releases import PROFILE_NAMESPACE
from tests.cli_helpers import run_cli
from tests.integration.conftest import _locate
from tests.integration.test_release_26_03_1 import ProfileControllerStandIn
from tests.shared_fixtures import render_without_webhooks
from tests.testbed.cluster import Testbed, wait_until

OLD, NEW = "26.03", "26.03.1"
USER = "alice"
APPLYSET = applyset_id(parent_name("kubeflow"), "kube-system")
# Kept, not in any render: the password step's Secret holding the Dex password kfbootstrap set.
LOGIN = "Secret/auth/kfbootstrap-kubeflow-login"
INFERENCE_MODELS = "CustomResourceDefinition/inferencemodels.inference.networking.x-k8s.io"  # a user's CR keeps it

USER_OBJECTS: list[dict[str, Any]] = [
    {
        "apiVersion": "kubeflow.org/v1",
        "kind": "Profile",
        "metadata": {"name": USER},
        "spec": {"owner": {"kind": "User", "name": "alice@example.com"}},
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": USER},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "data-content", "namespace": USER},
        "data": {"train.csv": "x,y\n1,2\n3,4\n"},
    },
    {
        "apiVersion": "kubeflow.org/v1",
        "kind": "Notebook",
        "metadata": {"name": "nb", "namespace": USER},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nb", "image": "jupyter:1", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}
                    ],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
                }
            }
        },
    },
    {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": USER},
        "spec": {"predictor": {"sklearn": {"storageUri": "pvc://data/model"}}},
    },
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "run-1", "namespace": USER, "labels": {"pipeline/runid": "run-1"}},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox"}}]},
    },
    {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
        "kind": "InferenceModel",
        "metadata": {"name": "iris", "namespace": USER},
        "spec": {"modelName": "iris", "poolRef": {"name": "pool"}},
    },
]
USER_RESOURCES = {
    "Profile": "profiles.kubeflow.org",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "ConfigMap": "configmaps",
    "Notebook": "notebooks.kubeflow.org",
    "InferenceService": "inferenceservices.serving.kserve.io",
    "Workflow": "workflows.argoproj.io",
    "InferenceModel": "inferencemodels.inference.networking.x-k8s.io",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
    made = {}
    for release in (OLD, NEW):
        objects = render_without_webhooks(f"kubeflow-{release}", "example.yaml.xz")
        path = tmp_path_factory.mktemp(f"kubeflow-{release}") / "kubeflow.yaml"
        path.write_text(dump_manifests(objects))
        made[release] = (path, objects)
    return made


@pytest.fixture(scope="module")
def bed():
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir) as fresh, ProfileControllerStandIn(fresh, PROFILE_NAMESPACE):
        yield fresh


@pytest.fixture
def up(bed, renders, tmp_path, monkeypatch, capsys):
    """`kfbootstrap up` as a user runs it, Kubeflow only, with the chosen release's render."""
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    monkeypatch.delenv("KUBEFLOW_PASSWORD", raising=False)

    def run(release: str, *extra: str):
        config = write_config(tmp_path, renders[release][0], release)
        return run_cli(capsys, "up", "--context", bed.context, "--config", config, *extra)

    return run


def write_config(where: Path, render: Path, release: str) -> Path:
    config = where / f"kfbootstrap-{release}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubeflow": {"path": str(render), "version": release},
                "components": {name: name == "kubeflow" for name in components.names()},
                "forwards": {"auto": False},
                "timeouts": {"apply": 900, "ready": 300},
            }
        )
    )
    return config


def ours(bed: Testbed, objects: list[dict[str, Any]], selector: str) -> set[str]:
    """str(ref) of every object of the render's kinds that carries `selector`, as the server lists it."""
    rest = KubeRest(bed.api_client())
    discovery = Discovery(rest)
    found = set()
    for api_version, kind in sorted({(o["apiVersion"], o["kind"]) for o in objects}):
        try:
            resource = discovery.resource(api_version, kind)
        except KindNotServed:
            continue
        listing = rest.get_json(
            resource.collection_path(None), query={"labelSelector": selector}, accept=METADATA_LIST_ACCEPT
        )
        for item in (listing or {}).get("items") or []:
            if not item["metadata"].get("deletionTimestamp"):
                meta = {**item["metadata"], "namespace": item["metadata"].get("namespace")}
                found.add(str(ref_of({"apiVersion": api_version, "kind": kind, "metadata": meta})))
    return found


def refs(bed: Testbed, objects: list[dict[str, Any]]) -> set[str]:
    discovery = Discovery(KubeRest(bed.api_client()))
    return {str(scoped_ref(discovery.resource(o["apiVersion"], o["kind"]), ref_of(o), None)) for o in objects}


def user_state(bed: Testbed) -> dict[str, Any]:
    """Each user object's uid and spec/data: unchanged means not deleted, not re-created, not edited."""
    state = {}
    for obj in USER_OBJECTS:
        kind, meta = obj["kind"], obj["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        live = json.loads(bed.kubectl("get", USER_RESOURCES[kind], meta["name"], *where, "-o", "json").stdout)
        state[f"{kind}/{meta['name']}"] = (live["metadata"]["uid"], live.get("spec"), live.get("data"))
    return state


def plan_section(text: str, heading: str) -> list[str]:
    """The items of one 'removed (3): a, b, c' kind of line, every app together."""
    items: list[str] = []
    for match in re.finditer(rf"^\s+{heading} \(\d+\): (.*)$", text, re.M):
        items += [item.strip() for item in re.split(r", (?=[A-Z][A-Za-z]+/)", match.group(1))]
    return items


def record(bed: Testbed) -> dict[str, Any]:
    parent = json.loads(
        bed.kubectl("get", "configmap", parent_name("kubeflow"), "-n", "kube-system", "-o", "json").stdout
    )
    return {key: json.loads(value) for key, value in parent["data"].items()} | {"metadata": parent["metadata"]}


def test_upgrade_26_03_to_26_03_1_keeps_users_data_and_does_what_the_plan_said(bed, renders, up, capsys):
    old_objects, new_objects = renders[OLD][1], renders[NEW][1]

    began = time.monotonic()
    first = up(OLD)
    install_old = time.monotonic() - began
    assert first.code == 0, first.text
    installed = record(bed)
    assert installed["release"] == OLD and installed["metadata"]["labels"]["applyset.kubernetes.io/id"] == APPLYSET
    assert ours(bed, old_objects, f"{PART_OF_LABEL}={APPLYSET}") == refs(bed, old_objects)

    bed.apply(USER_OBJECTS[:1])
    bed.kubectl("create", "namespace", USER)  # the profile controller's work, stood in for
    bed.apply(USER_OBJECTS[1:])
    users_before = user_state(bed)
    old_present = ours(bed, old_objects, f"{COMPONENT_LABEL}=kubeflow")

    dry = up(NEW, "--dry-run")
    assert dry.code == 0, dry.text
    plan = dry.out
    assert f"Installed: Kubeflow {OLD}; this run is an upgrade to {NEW}" in plan
    removed = set(plan_section(plan, "removed"))
    recreated = {item.split(" (")[0] for item in plan_section(plan, "recreated")}
    assert recreated == {
        "Deployment/kubeflow/profiles-deployment",
        "Deployment/kubeflow-system/jobset-controller-manager",
        "ClusterRoleBinding/llmisvc-manager-rolebinding",
    }
    assert (
        "CustomResourceDefinition/inferencemodels.inference.networking.x-k8s.io: CRD with some custom resources" in plan
    )
    assert "delete ClusterRoleBinding llmisvc-manager-rolebinding (its roleRef changed)" in plan
    assert "llminferenceservices.serving.kserve.io: stored v1alpha1 -> v1alpha2" in plan
    assert ours(bed, old_objects, f"{COMPONENT_LABEL}=kubeflow") == old_present, "the dry run changed something"

    began = time.monotonic()
    upgrade = up(NEW)
    upgrade_seconds = time.monotonic() - began
    assert upgrade.code == 0, upgrade.text
    with capsys.disabled():  # run_cli reads capsys: shown at once instead
        print(f"\n{plan[plan.index('Upgrade plan') : plan.index('Kubeflow applications')]}\n`up`:\n{upgrade.err}")
    assert f"upgrades it to {NEW}" in upgrade.err
    # What the dry run listed is what happened.
    after = ours(bed, old_objects + new_objects, f"{COMPONENT_LABEL}=kubeflow")
    assert removed and removed == old_present - after
    said_recreated = set(re.findall(r"recreated (\S+): ", upgrade.err))
    deleted_by_steps = set(re.findall(r"26\.03\.1/[\w-]+: deleted (\S+)", upgrade.err))
    assert said_recreated | (deleted_by_steps & recreated) == recreated, upgrade.err
    assert after == refs(bed, new_objects) | {INFERENCE_MODELS, LOGIN}
    assert ours(bed, old_objects, f"{PART_OF_LABEL}={APPLYSET}") - refs(bed, new_objects) == {
        "CustomResourceDefinition/inferencemodels.inference.networking.x-k8s.io"
    }
    assert user_state(bed) == users_before
    crd = json.loads(bed.kubectl("get", "crd", "llminferenceservices.serving.kserve.io", "-o", "json").stdout)
    assert crd["status"]["storedVersions"] == ["v1alpha2"]
    assert bed.kubectl("get", "crd", "profiles.kubeflow.org", check=False).returncode == 0
    now = record(bed)
    assert (now["release"], now["upgrading_to"], now["steps_done"]) == (NEW, "", [])

    # A second `up` changes nothing.
    again = up(NEW)
    assert again.code == 0, again.text
    assert "Install Kubeflow manifests" in again.err and "already done" in again.err
    assert ours(bed, old_objects + new_objects, f"{COMPONENT_LABEL}=kubeflow") == after

    # Going back is refused before anything is touched.
    down = up(OLD)
    assert down.code == 2, down.text
    assert f"Kubeflow {NEW} is installed; {OLD} is older and downgrades are refused" in down.err
    assert "--allow-downgrade" in down.err and "Traceback" not in down.text
    assert record(bed)["release"] == NEW

    step = re.search(r"✓ Install Kubeflow manifests \(([^,]+),", upgrade.err)
    measured = (
        f"`up` installing 26.03: {install_old:.1f}s; `up` upgrading 26.03 -> 26.03.1: {upgrade_seconds:.1f}s, "
        f"of which the Kubeflow step {step.group(1) if step else '?'}"
    )
    if os.environ.get("KFB_BENCH_UPGRADE") == "1":  # a second testbed and a full apply: ~2 min kept out of CI
        measured += f"; the Kubeflow step installing 26.03.1 fresh: {fresh_install_seconds(bed, renders):.1f}s"
    with capsys.disabled():
        print(f"\n{measured}")


def fresh_install_seconds(bed: Testbed, renders) -> float:
    """A fresh 26.03.1 install's apply, for comparison: the same step on a cluster of its own."""
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.steps.kubeflow import KubeflowStep
    from kfbootstrap.tools.runner import ShRunner

    with Testbed(bed.bin_dir, bed.stage_dir) as other, ProfileControllerStandIn(other, PROFILE_NAMESPACE):
        env = os.environ.copy()
        os.environ["KUBECONFIG"] = other.kubeconfig
        try:
            config = load_config(
                flags={"cluster.context": other.context, "kubeflow.path": renders[NEW][0], "kubeflow.version": NEW},
                env={},
                cwd=renders[NEW][0].parent,
            ).config
            began = time.monotonic()
            KubeflowStep().run(RunContext(config=config, runner=ShRunner()))
            return time.monotonic() - began
        finally:
            os.environ.clear()
            os.environ.update(env)


def test_an_interrupted_upgrade_is_finished_by_the_next_up(bed, renders, up, tmp_path):
    """Back to 26.03 (--allow-downgrade), then an upgrade killed once it has begun, then `up` again."""
    old_objects, new_objects = renders[OLD][1], renders[NEW][1]
    back = up(OLD, "--allow-downgrade")
    assert back.code == 0, back.text
    assert record(bed)["release"] == OLD
    users_before = user_state(bed)

    config = write_config(tmp_path, renders[NEW][0], NEW)
    env = {**os.environ, "KUBECONFIG": bed.kubeconfig, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-m", "kfbootstrap", "up", "--context", bed.context, "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed once the release steps ran and the apply is under way: the record says an upgrade is unfinished.
        wait_until(
            lambda: (
                record(bed).get("steps_done")
                and bed.kubectl("get", "deployment", "dashboard", "-n", "kubeflow", check=False).returncode == 0
            ),
            120,
            interval=0.2,
            what="the upgrade to be under way",
        )
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    half = record(bed)
    assert (half["release"], half["upgrading_to"]) == (OLD, NEW)

    finish = up(NEW)
    assert finish.code == 0, finish.text
    assert record(bed)["release"] == NEW
    assert ours(bed, old_objects + new_objects, f"{COMPONENT_LABEL}=kubeflow") == refs(bed, new_objects) | {
        INFERENCE_MODELS,
        LOGIN,
    }
    assert user_state(bed) == users_before
