"""Image-cache benchmark on the real Kind ground: upstream pulls and bytes, first vs second cluster.

The same flow as tests/e2e/test_image_cache.py, timed and counted: a stand-in upstream
registry of our own (tests/e2e/cache_ground.py) holds N test images, each with its own
layer; cluster 1 runs one Deployment per image through kfbootstrap's cache, `down`,
then cluster 2 runs them again. The upstream's access log says what it served.
Run: .venv/bin/python bench/image_cache.py [--images N]   (after `make kindground`)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.cache_ground import (Upstream, deployment, docker, registry_image, summarize,  # noqa: E402
                                    unique_image)

RUN = uuid.uuid4().hex[:6]  # names of this run only: tests may use the same Docker at the same time
NAME, NETWORK, UPSTREAM = f"kfb-bench-cache-{RUN}", f"kfb-bench-net-{RUN}", f"kfb-bench-up-{RUN}"
CACHE = f"kfbootstrap-cache-kfb-bench-up-{RUN}-5000"


def ground() -> dict[str, str]:
    checked = subprocess.run(["bash", str(REPO / "tests/kind/build.sh"), "--check"], capture_output=True, text=True)
    if checked.returncode != 0:
        sys.exit(f"error: the Kind test ground is not built ({checked.stderr.strip()})\nhint: run `make kindground`")
    values = dict(line.split("=", 1) for line in checked.stdout.split() if "=" in line)
    values["BIN"] = subprocess.run(["bash", str(REPO / "tests/testbed/build.sh"), "--check"], capture_output=True,
                                   text=True, check=True).stdout.split()[-1]
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3, help="how many distinct test images (default 3)")
    args = parser.parse_args()
    g = ground()
    import os

    import yaml

    work = Path(tempfile.mkdtemp(prefix="kfb-bench-cache-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
    env.update(PATH=os.pathsep.join([str(Path(g["KFB_KIND"]).parent), g["BIN"], env.get("PATH", "")]),
               KUBECONFIG=str(work / "kubeconfig"), KFBOOTSTRAP_STATE_DIR=str(work / "state"),
               KFBOOTSTRAP_CACHE_DIR=str(work / "cache"), KIND_EXPERIMENTAL_DOCKER_NETWORK=NETWORK)
    image = registry_image()
    for cleanup in (["rm", "-f", CACHE], ["volume", "rm", "-f", CACHE], ["network", "rm", NETWORK]):
        docker(*cleanup, check=False)
    docker("network", "create", NETWORK)
    upstream = Upstream(UPSTREAM, NETWORK, image)
    upstream.start()
    time.sleep(2)
    refs = []
    for number in range(args.images):
        local = unique_image(g["KFB_ECHO_IMAGE"], f"kfbootstrap.test/bench-{number}:v1")
        upstream.push(local, f"bench/app{number}", "v1")
        docker("rmi", local, check=False)
        refs.append(f"{upstream.registry}/bench/app{number}:v1")
    kind_config = yaml.safe_load((REPO / "kfbootstrap/data/kind-config.yaml").read_text())
    kind_config.setdefault("kubeadmConfigPatches", []).append("kind: KubeletConfiguration\nfailCgroupV1: false\n")
    (work / "kind-config.yaml").write_text(yaml.safe_dump(kind_config, sort_keys=False))
    components = {c: False for c in ("kubeflow", "kserve", "metallb", "prometheus", "grafana", "model_registry",
                                     "object_store")}
    (work / "kfbootstrap.yaml").write_text(yaml.safe_dump({
        "cluster": {"name": NAME, "workers": 1, "node_image": g["KFB_KIND_NODE_IMAGE"],
                    "kind_config": str(work / "kind-config.yaml")},
        "components": components, "forwards": {"auto": False},
        "cache": {"image": image, "network": NETWORK, "registries": {upstream.registry: f"http://{upstream.registry}"}}}))

    def kfb(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "kfbootstrap", *argv, "--config", str(work / "kfbootstrap.yaml")],
                       env=env, check=True, capture_output=True, cwd=work, timeout=1200)

    def kubectl(*argv: str, stdin: str | None = None) -> None:
        subprocess.run(["kubectl", "--context", f"kind-{NAME}", *argv], env=env, input=stdin, text=True,
                       check=True, capture_output=True, timeout=400)

    rows = []
    try:
        for cluster in ("first", "second"):
            kfb("up")
            upstream.mark()
            started = time.monotonic()
            for number, ref in enumerate(refs):
                kubectl("apply", "-f", "-", stdin=deployment(f"app{number}", ref))
            for number in range(len(refs)):
                kubectl("wait", "--for=condition=Available", f"deployment/app{number}", "--timeout=360s")
            rows.append((cluster, time.monotonic() - started, summarize(upstream.since_mark())))
            kfb("down")
    finally:
        subprocess.run([str(g["KFB_KIND"]), "delete", "cluster", "--name", NAME], env=env, capture_output=True)
        for cleanup in (["rm", "-f", CACHE], ["volume", "rm", "-f", CACHE]):
            docker(*cleanup, check=False)
        upstream.remove()
        docker("network", "rm", NETWORK, check=False)
    print(f"image cache benchmark: {len(refs)} images, one Deployment each, cluster of 1 control plane + 1 worker")
    print(f"{'cluster':<8} {'pods ready':>11} {'upstream requests':>18} {'pulls (GET)':>12} {'bytes':>10} {'tag checks':>11}")
    for cluster, seconds, numbers in rows:
        print(f"{cluster:<8} {seconds:>10.1f}s {numbers['requests']:>18} {numbers['pulls']:>12} {numbers['bytes']:>10} "
              f"{numbers['tag_checks']:>11}")


if __name__ == "__main__":
    main()
