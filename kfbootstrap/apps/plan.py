"""The chosen applications of one config: what `up` applies, and what it will ask of the machine.

Ties the release's catalog, the render and the measurement together for `up`,
`up --dry-run`, `render`, preflight and `status`, so they all see the same choice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from kfbootstrap.release_parts import catalog_for
from kfbootstrap.apps.measure import Totals, measure
from kfbootstrap.apps.origin import without_origin
from kfbootstrap.apps.select import Selection, select
from kfbootstrap.apps.sizing import UPSTREAM, resize
from kfbootstrap.config import Config

if TYPE_CHECKING:
    from kfbootstrap.kube.workloads import Workload
    from kfbootstrap.manifests import Render

GIB = 2**30


def nodes_of(config: Config) -> int:
    """Nodes a DaemonSet runs on: the Kind control plane and its workers (1 on an existing cluster we cannot see)."""
    return 1 if config.cluster.existing else 1 + config.cluster.workers


def selection_for(config: Config, render: "Render") -> Selection:
    """The objects of the chosen apps in `render` (every object when the release has no catalog), sized."""
    catalog = catalog_for(config.kubeflow.version)
    objects = render.objects()
    if catalog is None:  # config validation refuses kubeflow.apps here, so this is "everything"
        chosen = Selection([], [], [dict(without_origin(o)) for o in objects], [""] * len(objects))
    else:
        chosen = select(objects, catalog, config.kubeflow.apps, render.built_from, render.root)
    return sized(chosen, config.kubeflow.sizing)


def sized(selection: Selection, sizing: str) -> Selection:
    """The selection with kubeflow.sizing applied to its objects (same objects, same order)."""
    result = resize(selection.objects, sizing)
    selection.objects = result.objects
    selection.resized = result.changes
    return selection


def selection_digest(render: "Render", parts: Sequence[str], sizing: str = UPSTREAM) -> str:
    """What the cluster's marker records: the render and the choice made from it (no parse needed).

    A change of sizing changes the digest, so `up` applies again instead of skipping."""
    if not parts and sizing == UPSTREAM:  # a release without a catalog: the render is the whole story
        return render.digest
    suffix = "" if sizing == UPSTREAM else f"\nsizing={sizing}"
    return hashlib.sha256(f"{render.digest}\n{','.join(parts)}{suffix}".encode()).hexdigest()


@dataclass
class Budget:
    """Totals per part and overall, sidecars included."""

    nodes: int
    total: Totals
    parts: dict[str, Totals] = field(default_factory=dict)


def budget(selection: Selection, nodes: int) -> Budget:
    """Measure each part within the whole selection (it decides injection and the sidecar's size)."""
    result = Budget(nodes, measure(selection.objects, nodes))
    for part, objects in selection.by_part().items():
        result.parts[part or "(unattributed)"] = measure(objects, nodes, context=selection.objects)
    return result


def chosen_parts(config: Config) -> list[str]:
    """The parts the config chooses, without rendering ([] when the release has no catalog: everything)."""
    catalog = catalog_for(config.kubeflow.version)
    if catalog is None:
        return []
    return catalog.closure(config.kubeflow.apps if config.kubeflow.apps is not None else catalog.apps())


def left_behind(previous_parts: Sequence[str], previous_kept: Sequence[str], parts: Sequence[str]) -> list[str]:
    """Parts installed before (or kept before) that the new choice no longer has."""
    now = set(parts)
    return sorted({p for p in [*previous_parts, *previous_kept] if p and p not in now})


def part_selector(parts: Sequence[str]) -> str:
    """Label selector of our objects that belong to `parts` (for removing dropped apps)."""
    from kfbootstrap.apps.select import PART_LABEL
    from kfbootstrap.kube.objects import MANAGED_SELECTOR

    return f"{MANAGED_SELECTOR},{PART_LABEL} in ({','.join(sorted(parts))})"


def has_part(config: Config, part: str | None) -> bool:
    """Does the choice of apps leave `part` in? Always when no choice was made (kubeflow.apps unset):
    then the components alone decide, as before apps could be chosen."""
    if part is None or config.kubeflow.apps is None:
        return True
    return part in chosen_parts(config)


def apps_status(config: Config, workloads: Sequence["Workload"], kept: Sequence[str] = ()) -> list[dict]:
    """Per part installed on the cluster (by our part label): chosen or kept, and ready workloads / total."""
    from kfbootstrap.apps.select import PART_LABEL

    chosen = set(chosen_parts(config))
    rows: dict[str, dict] = {}
    for workload in workloads:
        part = workload.labels.get(PART_LABEL)
        if not part:
            continue
        row = rows.setdefault(
            part, {"part": part, "chosen": part in chosen, "kept": part in kept, "ready": 0, "total": 0}
        )
        row["total"] += 1
        row["ready"] += 1 if workload.is_ready else 0
    return [rows[p] for p in sorted(rows)]


def require_part(config: Config, part: str | None, what: str) -> None:
    """A clear error when a command is asked about something the chosen apps do not install."""
    if has_part(config, part):
        return
    from kfbootstrap.errors import KfbError

    apps = ",".join(config.kubeflow.apps or [])
    raise KfbError(
        f"{what} is not installed by this config: kubeflow.apps {apps} does not bring {part}",
        hint=f"add an app that needs {part} to kubeflow.apps (or `--apps`), or give the install's own --config",
    )
