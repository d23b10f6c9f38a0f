"""Profile policy: what each profile changes from the defaults, and what resources it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Profile = Literal["full", "minimal", "ci", "pipelines"]


# What each profile changes from the defaults (the user's own settings still win).
PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "minimal": {
        "cluster": {"workers": 1},
        "components": {"prometheus": False, "grafana": False, "metallb": False},
        "timeouts": {"ready": 1200},
    },
    "ci": {"forwards": {"auto": False}, "timeouts": {"ready": 2700}},
    # Kubeflow Pipelines and what it needs, its object store included; nothing else (docs/profiles-and-apps.md, 'Profiles').
    "pipelines": {
        "cluster": {"workers": 1},
        "kubeflow": {"apps": ["pipelines"], "sizing": "laptop"},
        "components": {"prometheus": False, "grafana": False, "metallb": False},
        "timeouts": {"ready": 1200},
    },
}


@dataclass(frozen=True)
class ProfileNeeds:
    """Resources a profile needs: below min is a blocker, below recommended a warning."""

    min_memory_gib: float
    min_cpus: int
    recommended_memory_gib: float
    recommended_cpus: int


PROFILE_NEEDS = {
    "full": ProfileNeeds(12, 4, 16, 8),
    "minimal": ProfileNeeds(8, 4, 12, 6),
    "ci": ProfileNeeds(12, 4, 16, 8),
    # Laptop sizing: 4.27 GiB requested with Kind's own pods (the table in docs/profiles-and-apps.md), under 75% of 6 GiB; so an
    # 8 GB laptop passes before a render is at hand too (then the measured requests decide).
    "pipelines": ProfileNeeds(6, 2, 8, 4),
}
# A bare cluster (every component off) needs only what kind's nodes need.
CLUSTER_ONLY_NEEDS = ProfileNeeds(4, 2, 8, 4)
