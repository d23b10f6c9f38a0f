"""Apply benchmark: our engine against the upstream loop and a single kubectl pass, each on a fresh testbed.

Input: the Kubeflow 26.03 `example` render from ../shared/fixtures (675 objects, 74 CRDs)
without its webhook configurations (the testbed has no webhook servers; the test input
only). Scenarios, each on its own fresh kwok testbed (tests/testbed):

  (a) kfbootstrap: the Kubeflow step (`up`'s code path) in a child process: read, parse,
      apply, record the marker; then, in a second child, `up`'s re-run check and a forced
      full re-apply on the same cluster (not counted in (a)'s time or requests)
  (b) upstream: `while ! kubectl apply --server-side --force-conflicts -f -; do sleep 20; done`
  (c) one `kubectl apply --server-side -f -` pass (which leaves the CRs out: not converged)

Reported: wall time; API requests counted by the client (kubectl -v=6 request lines, our
transport's counter) and by the API server (apiserver_request_total from /metrics before
and after: all verbs, which includes the cluster's own controllers, and APPLY alone);
our child's peak RSS (ru_maxrss); the ratios of (a) to (b) and to (c). Targets: (a) <= 0.5 x (b),
(a) <= (c), RSS <= 400 MB.

--quick runs the same three scenarios on a slice of the render (its namespaces, a few CRDs
with two of their custom resources each, every 25th other object) with a 2 s sleep in (b),
in about a minute; CI runs it (tests/integration/test_bench_quick.py). Its ratios prove the
bench still works, they are no measurement. Any run exits non-zero when a scenario breaks or
a result makes no sense (nothing applied, (a) or (b) not converged, a re-run not skipped).

Run: .venv/bin/python bench/apply.py [--repeat N] [--json] [--quick]
"""

from __future__ import annotations

import time

_STARTED = time.monotonic()  # the child reports its import time from here

import argparse  # noqa: E402
import json  # noqa: E402
import lzma  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("KFB_SHARED_DIR") or ROOT.parent / "shared")
EXAMPLE = SHARED / "fixtures" / "kubeflow-26.03" / "example.yaml.xz"
RELEASE = "26.03"  # the fixture's release: kubeflow.version for our child
UPSTREAM_SLEEP = 20
QUICK_SLEEP = 2
MAX_PASSES = 10
RSS_TARGET_MB = 400
# The quick slice: this many kinds of custom resource, this many of each, every Nth other object.
QUICK_CR_KINDS = 3
QUICK_PER_KIND = 2
QUICK_EVERY = 25
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# kubectl -v=6 logs one line per request: `] GET https://...` up to 1.29 or so, `"Response" verb="GET" url=...` now.
_VERBS = "GET|PATCH|POST|PUT|DELETE|HEAD"
_REQUEST_LINE = re.compile(rf'\] "?(?:{_VERBS}) https?://|"Response" verb="(?:{_VERBS})" url=')
_METRIC = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$")


# ---------------------------------------------------------------- shared helpers


def prepare_input(directory: Path, quick: bool = False) -> tuple[Path, int]:
    """The render without webhook configurations (`quick`: a slice of it) as one YAML file
    that every scenario reads, and how many objects it holds."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    docs = [
        d
        for d in yaml.load_all(lzma.decompress(EXAMPLE.read_bytes()).decode(), Loader=loader)
        if d and d.get("kind") not in WEBHOOK_KINDS
    ]
    if quick:
        docs = quick_slice(docs)
    path = directory / "kubeflow.yaml"
    path.write_text(yaml.dump_all(docs, Dumper=dumper, sort_keys=False))
    return path, len(docs)


def quick_slice(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A small input that still needs what the full one needs: every Namespace, a few CRDs with
    custom resources of theirs (so one kubectl pass cannot converge and the loop has to retry),
    and a spread of the other kinds; in the render's order."""

    def group_kind(doc: dict[str, Any]) -> tuple[str, str]:
        return doc["apiVersion"].rpartition("/")[0], doc["kind"]

    crds = {
        (d["spec"]["group"], d["spec"]["names"]["kind"]): i
        for i, d in enumerate(docs)
        if d["kind"] == "CustomResourceDefinition"
    }
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    keep = {i for i, d in enumerate(docs) if d["kind"] == "Namespace"}
    taken: dict[tuple[str, str], int] = {}
    others = []
    for index, doc in enumerate(docs):
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in ("Namespace", "CustomResourceDefinition") or (namespace and namespace not in namespaces):
            continue  # a namespace a controller makes (the Profile's) is not what this slice is for
        key = group_kind(doc)
        if key not in crds:
            others.append(index)
        elif taken.get(key, 0) < QUICK_PER_KIND and (key in taken or len(taken) < QUICK_CR_KINDS):
            taken[key] = taken.get(key, 0) + 1
            keep.update((index, crds[key]))
    keep.update(others[::QUICK_EVERY])
    return [docs[i] for i in sorted(keep)]


def server_requests(bed) -> tuple[int, int]:
    """(all requests, APPLY requests) the API server has counted so far."""
    total = applies = 0
    for line in bed.kubectl("get", "--raw", "/metrics", timeout=60).stdout.splitlines():
        match = _METRIC.match(line)
        if match:
            count = int(float(match.group(2)))
            total += count
            if 'verb="APPLY"' in match.group(1):
                applies += count
    return total, applies


def fresh_testbed():
    from tests.testbed.cluster import Testbed, locate_bin_dir, locate_stage_dir, read_versions

    return Testbed(locate_bin_dir(), locate_stage_dir(read_versions()["KWOK_VERSION"]))


# ---------------------------------------------------------------- scenarios


def run_child(bed, manifests: Path, mode: str) -> dict:
    env = {
        **bed.env,
        "KFBOOTSTRAP_CACHE_DIR": str(bed.root / "kfb-cache"),
        "KFBOOTSTRAP_STATE_DIR": str(bed.root / "kfb-state"),
    }
    child = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--context", bed.context, "--manifests", str(manifests)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if child.returncode != 0:
        raise SystemExit(f"our engine failed ({mode}):\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def run_kubectl(bed, manifests: Path, *, loop: bool, sleep: float) -> dict:
    argv = ["kubectl", "--context", bed.context, "-v=6", "apply", "--server-side", "-f", str(manifests)]
    if loop:
        argv.insert(-2, "--force-conflicts")
    passes = requests = 0
    began = time.monotonic()
    while True:
        passes += 1
        result = bed.run(argv, check=False, timeout=1800)
        requests += len(_REQUEST_LINE.findall(result.stderr))
        if result.returncode == 0 or not loop or passes >= MAX_PASSES:
            break
        time.sleep(sleep)
    return {
        "wall": time.monotonic() - began,
        "client_requests": requests,
        "passes": passes,
        "converged": result.returncode == 0,
    }


def scenario(name: str, manifests: Path, sleep: float) -> dict:
    with fresh_testbed() as bed:
        before = server_requests(bed)
        if name == "ours":
            result = run_child(bed, manifests, "first")
        else:
            result = run_kubectl(bed, manifests, loop=name == "upstream", sleep=sleep)
        after = server_requests(bed)
        result["server_requests"] = after[0] - before[0] - 1  # minus the /metrics read itself
        result["server_applies"] = after[1] - before[1]
        if name == "ours":
            result.update(run_child(bed, manifests, "rerun"))
        return result


# ---------------------------------------------------------------- the child: our engine as `up` runs it


def child(mode: str, context: str, manifests: Path) -> None:
    """`first`: the Kubeflow step as `up` runs it on a fresh cluster. `rerun`: `up` again, then a forced re-apply."""
    import resource

    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.kube.apply import apply_objects
    from kfbootstrap.steps.kubeflow import KubeflowStep
    from kfbootstrap.tools.runner import ShRunner

    config = load_config(
        flags={"cluster.context": context, "kubeflow.path": manifests, "kubeflow.version": RELEASE},
        env={},
        cwd=manifests.parent,
    ).config
    ctx = RunContext(config=config, runner=ShRunner())
    step = KubeflowStep()
    began = time.monotonic()
    imports = began - _STARTED
    if mode == "first":
        retries = _count_retries()
        assert not step.is_done(ctx)
        note = step.run(ctx) or ""
        done, _, total = note.split()[0].partition("/")
        print(
            json.dumps(
                {
                    "wall": time.monotonic() - began,
                    "imports": imports,
                    "client_requests": ctx.kube.rest.requests,  # the run's one transport (RunContext.kube)
                    "passes": 1,
                    "applied": int(done),
                    "converged": done == total,
                    "note": note,
                    "retries": dict(retries),
                    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
        )
        return
    skipped = step.is_done(ctx)
    rerun_check = time.monotonic() - began
    retries = _count_retries()
    render = step.rendered(ctx)
    assert render is not None, "the Kubeflow step found no render"
    objects = step.adjusted(ctx, step.objects(ctx, render))  # exactly what the step's run applies
    report = apply_objects(ctx.kube, objects, component="kubeflow", timeout=600)
    print(
        json.dumps(
            {
                "rerun_skipped": skipped,
                "rerun_check": rerun_check,
                "reapply": report.seconds,
                "reapply_objects": report.total,
                "reapply_requests": report.requests,
                "reapply_retried": sum(1 for n in report.attempts().values() if n > 1),
                "reapply_retries": dict(retries),
            }
        )
    )


def _count_retries() -> "dict[str, int]":
    """Why objects had to be retried, read from the engine's debug log."""
    import collections
    import logging

    counts: collections.Counter[str] = collections.Counter()

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            args = record.args
            if isinstance(args, tuple) and str(record.msg).startswith("retry %s"):
                counts[f"{getattr(args[0], 'kind', args[0])}: {args[2]}"] += 1

    logger = logging.getLogger("kfbootstrap.apply")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Counter())
    return counts


# ---------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (a), (b), (c); medians are reported")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    parser.add_argument("--only", choices=["ours", "upstream", "single"], action="append")
    parser.add_argument(
        "--quick", action="store_true", help=f"a slice of the render and a {QUICK_SLEEP} s sleep in (b): CI's check"
    )
    parser.add_argument("--sleep", type=float, help=f"(b)'s sleep between passes (default {UPSTREAM_SLEEP} s)")
    parser.add_argument("--child", choices=["first", "rerun"], help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    parser.add_argument("--manifests", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.context, args.manifests)
        return 0
    if not EXAMPLE.is_file():
        print(f"error: fixture {EXAMPLE} not found (set KFB_SHARED_DIR)", file=sys.stderr)
        return 1
    sleep = args.sleep if args.sleep is not None else QUICK_SLEEP if args.quick else UPSTREAM_SLEEP
    names = args.only or ["ours", "upstream", "single"]
    rounds: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="kfb-bench-") as tmp:
        manifests, count = prepare_input(Path(tmp), quick=args.quick)
        print(f"input: {count} objects{' (--quick slice)' if args.quick else ''}", file=sys.stderr)
        for number in range(args.repeat):
            for name in names:  # interleaved, so machine load drifts hit every scenario alike
                result = scenario(name, manifests, sleep)
                rounds[name].append(result)
                print(f"round {number + 1} {name}: {result['wall']:.1f}s", file=sys.stderr)
    if args.json:
        print(json.dumps(rounds, indent=2))
    print_table(rounds, count, sleep, quick=args.quick)
    problems = nonsense(rounds, count)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _why(results: list[dict], key: str) -> str:
    """`: reason xN, ...` over every round's retry reasons (the engine's debug log), or nothing."""
    import collections

    reasons: collections.Counter[str] = collections.Counter()
    for r in results:
        reasons.update(r.get(key) or {})
    return ": " + ", ".join(f"{why} x{n}" for why, n in reasons.most_common()) if reasons else ""


def nonsense(rounds: dict[str, list[dict]], count: int) -> list[str]:
    """What in the results cannot be right: each is a broken bench or a broken engine, never a slow one."""
    problems = []
    for name, results in rounds.items():
        for number, r in enumerate(results, 1):
            where = f"round {number} {name}"
            if not r["wall"] > 0:
                problems.append(f"{where}: wall time {r['wall']}")
            if r["server_applies"] <= 0:
                problems.append(f"{where}: the API server counted no apply")
            if r["client_requests"] <= 0:
                problems.append(f"{where}: the client counted no request (has kubectl's -v=6 request line changed?)")
            if name == "ours":
                if r["applied"] != count or not r["converged"]:
                    problems.append(f"{where}: applied {r['note']!r}, expected {count}/{count} objects")
                if not r["rerun_skipped"]:
                    problems.append(f"{where}: the re-run did not find the marker and skip")
                if r["reapply_objects"] != count:  # a retry is no nonsense: a busy server refuses some
                    problems.append(f"{where}: the forced re-apply sent {r['reapply_objects']} objects, not {count}")
            if name == "upstream" and not r["converged"]:
                problems.append(f"{where}: the upstream loop did not converge in {MAX_PASSES} passes")
    return problems


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def print_table(rounds: dict[str, list[dict]], count: int, sleep: float, *, quick: bool = False) -> None:
    titles = {
        "ours": "(a) kfbootstrap engine",
        "upstream": f"(b) upstream loop, sleep {sleep:g}s",
        "single": "(c) one kubectl --server-side pass",
    }
    print(f"apply benchmark: {count} objects{', --quick slice' if quick else ''}")
    print(f"{'scenario':<36} {'wall s':>7} {'client req':>10} {'server req':>10} {'APPLY':>6} {'passes':>6}  converged")
    for name, results in rounds.items():
        print(
            f"{titles[name]:<36} {_median(results, 'wall'):>7.1f} {_median(results, 'client_requests'):>10.0f} "
            f"{_median(results, 'server_requests'):>10.0f} {_median(results, 'server_applies'):>6.0f} "
            f"{_median(results, 'passes'):>6.0f}  {all(r['converged'] for r in results)}"
        )
    if "ours" not in rounds:
        return
    ours = rounds["ours"]
    print(
        f"\nours: peak RSS {max(r['maxrss_mb'] for r in ours):.0f} MB (target <= {RSS_TARGET_MB}); "
        f"re-run check {_median(ours, 'rerun_check'):.2f}s (skipped: {all(r['rerun_skipped'] for r in ours)}); "
        f"full re-apply {_median(ours, 'reapply'):.1f}s with {_median(ours, 'reapply_requests'):.0f} requests "
        f"({max(r['reapply_retried'] for r in ours)} objects retried{_why(ours, 'reapply_retries')}); "
        f"imports and config before the step {_median(ours, 'imports'):.1f}s (not in wall)"
    )
    # One line per ratio, `ratio <what>: <x>x`: CI parses them (tests/integration/test_bench_quick.py).
    verdict = "quick run, not judged" if quick else "{}"
    a = _median(ours, "wall")
    for other, target in (("upstream", 0.5), ("single", 1.0)):
        if other not in rounds:
            continue
        letter = "b" if other == "upstream" else "c"
        wall = ratio(a, _median(rounds[other], "wall"))
        met = "met" if wall <= target else "MISSED"
        print(f"ratio (a)/({letter}) wall: {wall:.3f}x  target <= {target:g}x -> {verdict.format(met)}")
        applies = ratio(_median(ours, "server_applies"), _median(rounds[other], "server_applies"))
        print(f"ratio (a)/({letter}) server APPLY requests: {applies:.3f}x")


if __name__ == "__main__":
    sys.exit(main())
