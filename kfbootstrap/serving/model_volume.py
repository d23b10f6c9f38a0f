"""The model's copy on the cluster: a PVC with one directory per model digest.

A pod of the serving runtime's image mounts the claim, and the files arrive through exec as a
tar (what `kubectl cp` does). A copy is written aside and renamed into place, and a marker
`<digest>.complete` says it is whole, so an interrupted copy is redone, never served. Copies
other than the one being served and the new one are removed on the way: the claim holds two
revisions at most.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Callable

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.api import PODS
from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.pod_exec import run_in_pod
from kfbootstrap.kube.readiness import pod_problem
from kfbootstrap.serving.manifests import MODELS_MOUNT, claim_name, copy_pod, copy_pod_name, model_claim
from kfbootstrap.serving.model_files import ModelFiles

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

CLAIMS = Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True)
POD_START_SECONDS = 300


def ensure_copy(
    kube: "Kube",
    name: str,
    namespace: str,
    model: ModelFiles,
    image: str,
    keep: str | None,
    progress: Callable[[str], None] = lambda text: None,
) -> bool:
    """Make sure pvc://kfb-model-NAME/<digest> holds `model`; True when files were copied.
    `keep` is the digest being served now: its copy stays until the next one."""
    kube.create(CLAIMS, model_claim(name, namespace, model.size), namespace)  # None: it exists already
    pod = _start_copy_pod(kube, name, namespace, image, progress)
    try:
        if _complete(kube, namespace, pod, model.digest):
            return False
        progress(f"copying {model.size:,} bytes into {claim_name(name)}")
        _copy(kube, namespace, pod, model, keep)
        return True
    finally:
        kube.delete(PODS, pod, namespace)


def _start_copy_pod(kube: "Kube", name: str, namespace: str, image: str, progress: Callable[[str], None]) -> str:
    pod_name = copy_pod_name(name)
    old = kube.get(PODS, pod_name, namespace)
    if old is not None:  # a killed run's pod: its deadline or phase may be anything
        kube.delete(PODS, pod_name, namespace)
        _wait_gone(kube, namespace, pod_name)
    kube.create(PODS, copy_pod(name, namespace, image), namespace)
    progress(f"starting pod {pod_name} to copy the model into the volume")
    deadline = time.monotonic() + POD_START_SECONDS
    while True:
        pod = kube.get(PODS, pod_name, namespace) or {}
        problem = pod_problem(pod) if pod else ("Missing", f"pod {pod_name} disappeared")
        if problem is None:
            return pod_name
        if problem[0] in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "Failed", "Missing"):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    kube.delete(PODS, pod_name, namespace)
    raise KfbError(
        f"the pod that copies the model into {claim_name(name)} did not start: {problem[0]}: {problem[1]}",
        hint=f"see `kubectl -n {namespace} describe pvc {claim_name(name)}` and the namespace's events",
    )


def _wait_gone(kube: "Kube", namespace: str, pod: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while kube.get(PODS, pod, namespace) is not None and time.monotonic() < deadline:
        time.sleep(0.5)


def _complete(kube: "Kube", namespace: str, pod: str, digest: str) -> bool:
    marker = shlex.quote(f"{MODELS_MOUNT}/{digest}.complete")
    return _sh(kube, namespace, pod, f"test -e {marker} && echo yes || true").strip() == "yes"


def _copy(kube: "Kube", namespace: str, pod: str, model: ModelFiles, keep: str | None) -> None:
    archive = model.tar()
    kept = {model.digest, keep or model.digest}
    prune = " ".join(shlex.quote(d) for d in sorted(kept))
    script = (
        f"set -e; cd {MODELS_MOUNT}; "
        # the copies no InferenceService serves any more, and any half-written one
        f'for d in *; do case " {prune} " in *" ${{d%.complete}} "*) ;; *) rm -rf "$d";; esac; done; '
        f"rm -rf {model.digest} {model.digest}.partial; mkdir {model.digest}.partial; "
        f"head -c {len(archive)} | tar -x -C {model.digest}.partial; "
        f"mv {model.digest}.partial {model.digest}; touch {model.digest}.complete"
    )
    _sh(kube, namespace, pod, script, archive)


def _sh(kube: "Kube", namespace: str, pod: str, script: str, stdin: bytes = b"") -> str:
    result = run_in_pod(kube, namespace, pod, ["sh", "-c", script], stdin=stdin)
    if result.returncode != 0:
        raise KfbError(
            f"copying the model in pod {namespace}/{pod} failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-300:] or result.stdout.strip()[-300:]}",
            hint="the serving runtime's image needs sh, head and tar; check the volume has room",
        )
    return result.stdout
