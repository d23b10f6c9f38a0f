"""Image-cache benchmark on the real Kind ground: upstream pulls and bytes, first vs second cluster.

The same flow as tests/e2e/test_image_cache.py, timed and counted: a stand-in upstream
registry of our own (tests/e2e/cache_ground.py) holds N test images, each with its own
layer; cluster 1 runs one Deployment per image through kfbootstrap's cache, `down`,
then cluster 2 runs them again. The upstream's access log says what it served.
Without a cache the second cluster would pull what the first did (its nodes hold none of
the images), so the ratios second/first are ours against the upstream way.
--quick (1 image; CI runs it, tests/e2e/test_bench_quick.py) runs the same flow and prints the
same ratios. Any run exits non-zero when a step fails or the numbers make no sense (the first
cluster pulled nothing from the upstream, the second more than the first).
Run: .venv/bin/python bench/image_cache.py [--images N] [--quick]   (after `make kindground`)
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.cache_ground import (  # noqa: E402
    Upstream,
    deployment,
    docker,
    registry_image,
    summarize,
    unique_image,
)
from kfbootstrap import components as registry  # noqa: E402
from tests.bench_helpers import kind_ground  # noqa: E402
from tests.testbed.cluster import wait_until  # noqa: E402

RUN = uuid.uuid4().hex[:6]  # names of this run only: tests may use the same Docker at the same time
NAME, NETWORK, UPSTREAM = f"kfb-bench-cache-{RUN}", f"kfb-bench-net-{RUN}", f"kfb-bench-up-{RUN}"
CACHE = f"kfbootstrap-cache-kfb-bench-up-{RUN}-5000"
IMAGES, QUICK_IMAGES = 3, 1


def run(argv: list[str], what: str, **kwargs) -> None:
    """Run a step of the flow; a failure ends the bench (exit 1) with the step's output."""
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"error: {what} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, help=f"how many distinct test images (default {IMAGES}; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_IMAGES} image: CI's check")
    args = parser.parse_args()
    images = args.images or (QUICK_IMAGES if args.quick else IMAGES)
    g = kind_ground()
    import yaml

    work = Path(tempfile.mkdtemp(prefix="kfb-bench-cache-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFBOOTSTRAP_")}
    env.update(
        PATH=os.pathsep.join([str(Path(g["KFB_KIND"]).parent), g["BIN"], env.get("PATH", "")]),
        KUBECONFIG=str(work / "kubeconfig"),
        KFBOOTSTRAP_STATE_DIR=str(work / "state"),
        KFBOOTSTRAP_CACHE_DIR=str(work / "cache"),
        KIND_EXPERIMENTAL_DOCKER_NETWORK=NETWORK,
    )
    image = registry_image()
    for cleanup in (["rm", "-f", CACHE], ["volume", "rm", "-f", CACHE], ["network", "rm", NETWORK]):
        docker(*cleanup, check=False)
    docker("network", "create", NETWORK)
    upstream = Upstream(UPSTREAM, NETWORK, image)

    def kfb(*argv: str) -> None:
        config = ["--config", str(work / "kfbootstrap.yaml")]
        run(
            [sys.executable, "-m", "kfbootstrap", *argv, *config],
            f"kfbootstrap {argv[0]}",
            env=env,
            cwd=work,
            timeout=1200,
        )

    def kubectl(*argv: str, stdin: str | None = None) -> None:
        run(["kubectl", "--context", f"kind-{NAME}", *argv], f"kubectl {argv[0]}", env=env, input=stdin, timeout=400)

    rows = []
    try:
        upstream.start()
        wait_until(lambda: docker("port", UPSTREAM, "5000/tcp", check=False).returncode == 0, 30, 0.5, "upstream port")
        time.sleep(1)
        refs = []
        for number in range(images):
            local = unique_image(g["KFB_ECHO_IMAGE"], f"kfbootstrap.test/bench-{RUN}-{number}:v1")
            upstream.push(local, f"bench/app{number}", "v1")
            docker("rmi", local, check=False)
            refs.append(f"{upstream.registry}/bench/app{number}:v1")
        components = {c: False for c in registry.names()}
        # No kind config of our own: `up` generates it, with what this host needs (cgroup v1).
        cluster = {"name": NAME, "workers": 1, "node_image": g["KFB_KIND_NODE_IMAGE"]}
        cache = {"image": image, "network": NETWORK, "registries": {upstream.registry: f"http://{upstream.registry}"}}
        (work / "kfbootstrap.yaml").write_text(
            yaml.safe_dump({"cluster": cluster, "components": components, "forwards": {"auto": False}, "cache": cache})
        )
        for which in ("first", "second"):
            kfb("up")
            upstream.mark()
            started = time.monotonic()
            for number, ref in enumerate(refs):
                kubectl("apply", "-f", "-", stdin=deployment(f"app{number}", ref))
            for number in range(len(refs)):
                kubectl("wait", "--for=condition=Available", f"deployment/app{number}", "--timeout=360s")
            rows.append((which, time.monotonic() - started, summarize(upstream.since_mark())))
            kfb("down")
    finally:
        subprocess.run([str(g["KFB_KIND"]), "delete", "cluster", "--name", NAME], env=env, capture_output=True)
        for cleanup in (["rm", "-f", CACHE], ["volume", "rm", "-f", CACHE]):
            docker(*cleanup, check=False)
        upstream.remove()
        docker("network", "rm", NETWORK, check=False)
    print(f"image cache benchmark: {images} images, one Deployment each, cluster of 1 control plane + 1 worker")
    print(
        f"{'cluster':<8} {'pods ready':>11} {'upstream requests':>18} {'pulls (GET)':>12} {'bytes':>10} {'tag checks':>11}"
    )
    for which, seconds, numbers in rows:
        print(
            f"{which:<8} {seconds:>10.1f}s {numbers['requests']:>18} {numbers['pulls']:>12} {numbers['bytes']:>10} "
            f"{numbers['tag_checks']:>11}"
        )
    return report(rows)


def report(rows: list[tuple[str, float, dict[str, int]]]) -> int:
    """The ratio lines (`ratio <what>: <x>x`, parsed by tests/e2e/test_bench_quick.py); 1 when they make no sense."""
    (_, first_seconds, first), (_, second_seconds, second) = rows

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else math.nan

    print("without a cache the second cluster pulls what the first did: second/first is ours vs the upstream way")
    ratios = {
        "pods ready": ratio(second_seconds, first_seconds),
        "upstream pulls": ratio(second["pulls"], first["pulls"]),
        "upstream bytes": ratio(second["bytes"], first["bytes"]),
    }
    for what, value in ratios.items():
        print(f"ratio second/first cluster {what}: {value:.3f}x")
    problems = []
    if first["pulls"] <= 0 or first["bytes"] <= 0:
        problems.append("the first cluster pulled nothing from the upstream: its pods did not come through it")
    if second["pulls"] > first["pulls"] or second["bytes"] > first["bytes"]:
        problems.append("the second cluster pulled more from the upstream than the first")
    if not all(math.isfinite(v) and v >= 0 for v in ratios.values()) or not ratios["pods ready"] > 0:
        problems.append(f"a ratio is not a number: {ratios}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
