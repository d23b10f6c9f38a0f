"""Tables of what each profile and each chosen set of apps asks for: `up --dry-run` and the docs.

Every number is measured from the render (kfbootstrap/apps/measure.py); the docs'
table (docs/profiles-and-apps.md) is this module's output, checked against the fixture render by a unit test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from kfbootstrap.release_parts import Catalog
from kfbootstrap.apps.fit import with_system
from kfbootstrap.apps.measure import Totals
from kfbootstrap.apps.plan import GIB, budget, sized
from kfbootstrap.apps.select import Selection, select
from kfbootstrap.apps.sizing import LAPTOP, UPSTREAM


@dataclass(frozen=True)
class Row:
    name: str  # a profile, or "apps: a,b"
    apps: str
    sizing: str  # kubeflow.sizing the row is measured with
    nodes: int
    totals: Totals

    def cells(self) -> list[str]:
        t = self.totals
        memory, cpu = with_system(t, self.nodes)
        return [
            self.name,
            self.apps,
            self.sizing,
            str(self.nodes),
            str(t.objects),
            str(len(t.images)),
            str(t.pods),
            f"{t.total_cpu:.2f} ({t.sidecar_cpu:.2f})",
            f"{t.total_memory / GIB:.2f} ({t.sidecar_memory / GIB:.2f})",
            f"{cpu:.2f} / {memory / GIB:.2f}",
        ]


HEADERS = [
    "profile / choice",
    "apps",
    "sizing",
    "nodes",
    "objects",
    "images",
    "pods",
    "CPU requested (of it sidecars)",
    "GiB requested (of it sidecars)",
    "with Kind's own pods: CPU / GiB",
]


@dataclass(frozen=True)
class Choice:
    """One row to measure: a name, the apps (None: all), the nodes DaemonSets run on, and the sizing."""

    name: str
    apps: list[str] | None
    nodes: int
    sizing: str = UPSTREAM


def row(name: str, selection: Selection, nodes: int, sizing: str = UPSTREAM) -> Row:
    apps = ",".join(selection.apps) if selection.apps else "(all in the render)"
    return Row(name, apps, sizing, nodes, budget(selection, nodes).total)


def profile_rows(
    objects: Sequence[Mapping[str, Any]],
    catalog: Catalog,
    choices: Sequence[Choice],
    built_from: str | None = None,
    root: str = ".",
) -> list[Row]:
    """One row per choice, each selected from the render and sized as the choice says."""
    extra = {} if built_from is None else {"built_from": built_from, "root": root}
    return [row(c.name, sized(select(objects, catalog, c.apps, **extra), c.sizing), c.nodes, c.sizing) for c in choices]


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def part_lines(selection: Selection, nodes: int) -> list[str]:
    """One line per part of a selection: objects, pods, CPU and memory (sidecars included)."""
    measured = budget(selection, nodes)
    lines = []
    for part, totals in measured.parts.items():
        lines.append(
            f"{part:<28} {totals.objects:>4} objects {totals.pods:>3} pods "
            f"{totals.total_cpu:>5.2f} CPU {totals.total_memory / GIB:>5.2f} GiB"
        )
    return lines


def part_markdown(selection: Selection, nodes: int) -> str:
    """Per part of one selection: objects, pods, CPU and GiB requested (of it sidecars)."""
    measured = budget(selection, nodes)
    lines = ["| part | objects | pods | CPU (sidecars) | GiB (sidecars) |", "|---|---|---|---|---|"]
    for part, t in measured.parts.items():
        lines.append(
            f"| {part} | {t.objects} | {t.pods} | {t.total_cpu:.2f} ({t.sidecar_cpu:.2f}) | "
            f"{t.total_memory / GIB:.2f} ({t.sidecar_memory / GIB:.2f}) |"
        )
    return "\n".join(lines) + "\n"


def needs_markdown(catalog: Catalog) -> str:
    """What each app brings along (its closure), from the catalog."""
    lines = ["| app | what it is | brings along |", "|---|---|---|"]
    for name in catalog.apps():
        closure = [p for p in catalog.closure([name]) if p != name]
        lines.append(f"| `{name}` | {catalog.part(name).why} | {', '.join(closure) or '-'} |")
    return "\n".join(lines) + "\n"


# Upstream's single-user Pipelines (env/platform-agnostic) is not in our fixtures; its objects
# are the multi-user ones minus these sources, with no Istio and so no sidecars.
MULTI_USER_ONLY = (
    "applications/pipeline/upstream/base/installs/multi-user",
    "applications/pipeline/upstream/third-party/metacontroller",
)


def single_user_estimate(objects: Sequence[Mapping[str, Any]], catalog: Catalog, nodes: int) -> Totals:
    """An estimate of single-user Pipelines from the multi-user render: pipelines' objects without
    the multi-user sources and Istio's, plus cert-manager (the cache webhook's certificate)."""
    from kfbootstrap.apps.measure import measure
    from kfbootstrap.apps.origin import source_of

    chosen = select(objects, catalog, ["pipelines"])
    keep = []
    for obj, original in zip(chosen.objects, _originals(objects, chosen)):
        source = source_of(original)
        part = chosen_part(obj)
        if part == "cert-manager" or (
            part == "pipelines"
            and not source.startswith(MULTI_USER_ONLY)
            and not str(obj.get("apiVersion", "")).startswith(("networking.istio.io/", "security.istio.io/"))
        ):
            keep.append(obj)
    return measure(keep, nodes)


def chosen_part(obj: Mapping[str, Any]) -> str:
    from kfbootstrap.apps.select import PART_LABEL

    return str(((obj.get("metadata") or {}).get("labels") or {}).get(PART_LABEL, ""))


def _originals(objects: Sequence[Mapping[str, Any]], chosen: Selection) -> list[Mapping[str, Any]]:
    """The render's objects behind a selection's (same order: selection keeps the render's order)."""
    from kfbootstrap.kube.objects import ref_of

    by_ref = {ref_of(o): o for o in objects}
    return [by_ref[ref_of(o)] for o in chosen.objects]


# Choices beyond the profiles that the docs measure (each at the pipelines profile's node count).
DOCS_CHOICES = (["pipelines", "hub"], ["pipelines", "kserve"], ["kserve"], ["notebooks"], ["trainer", "spark"])


def docs_block(objects: Sequence[Mapping[str, Any]], catalog: Catalog) -> str:
    """The docs' generated section: per profile (with its own sizing, and the other one where it
    matters) and per choice, then the pipelines profile per part, as that profile installs it."""
    from kfbootstrap.config import PROFILE_PRESETS, profile_config

    configs = {name: profile_config(name, catalog.release) for name in PROFILE_PRESETS}
    nodes = {name: 1 + config.cluster.workers for name, config in configs.items()}
    choices = [
        Choice(f"profile `{name}`", config.kubeflow.apps, nodes[name], config.kubeflow.sizing)
        for name, config in configs.items()
    ]
    laptop = configs["pipelines"].kubeflow.sizing
    other = UPSTREAM if laptop == LAPTOP else LAPTOP
    choices.insert(
        list(configs).index("pipelines") + 1,
        Choice(
            f"profile `pipelines` `--sizing {other}`", configs["pipelines"].kubeflow.apps, nodes["pipelines"], other
        ),
    )
    choices.insert(1, Choice("profile `full` `--sizing laptop`", None, nodes["full"], LAPTOP))
    choices += [Choice(f"`--apps {','.join(apps)}`", list(apps), nodes["pipelines"]) for apps in DOCS_CHOICES]
    rows = profile_rows(objects, catalog, choices)
    single = single_user_estimate(objects, catalog, nodes["pipelines"])
    pipelines = sized(select(objects, catalog, configs["pipelines"].kubeflow.apps), laptop)
    return (
        f"Measured from the {catalog.release} `example` render by `kfbootstrap.apps.report` "
        "(tests/unit/test_apps_docs.py keeps this section in step with the code):\n\n"
        + markdown(rows)
        + f"\nEstimate, not installable here: upstream's single-user Pipelines would request about "
        f"{single.total_cpu:.2f} CPU and {single.total_memory / GIB:.2f} GiB ({single.pods} pods, no sidecars); "
        "see below.\n\n"
        + f"What `--sizing {LAPTOP}` changes in the render (only requests, only downwards):\n\n"
        + "".join(f"- {change}\n" for change in pipelines.resized)
        + _sidecar_note(pipelines)
        + f"\nThe `pipelines` profile's largest requests ({laptop} sizing): "
        + largest(pipelines, nodes["pipelines"])
        + f".\n\nThe `pipelines` profile per part ({laptop} sizing):\n\n"
        + part_markdown(pipelines, nodes["pipelines"])
    )


def _sidecar_note(selection: Selection) -> str:
    """Say so when the injector's default sidecar already asks no more than laptop sizing would."""
    from kfbootstrap.apps.measure import sidecar_of

    sidecar = sidecar_of(selection.objects)
    if sidecar is None or any("sidecar default" in change for change in selection.resized):
        return ""
    return (
        f"- not changed: the injector's default sidecar requests ({sidecar.cpu * 1000:.0f}m CPU, "
        f"{sidecar.memory / 2**20:.0f}Mi) are already Istio's demo values\n"
    )


def largest(selection: Selection, nodes: int, count: int = 6) -> str:
    """The workloads requesting the most memory, as 'Kind/namespace/name GiB' (sidecars not included)."""
    from kfbootstrap.apps.measure import measure

    sized = []
    for obj in selection.objects:
        totals = measure([obj], nodes)
        if totals.memory:
            sized.append((totals.memory, f"{obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"))
    return ", ".join(f"{name} {memory / GIB:.2f} GiB" for memory, name in sorted(sized, reverse=True)[:count])
