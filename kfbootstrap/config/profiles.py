"""Profile policy: what each profile changes from the defaults, and what resources it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kfbootstrap import components as registry

Profile = Literal["full", "minimal", "ci", "pipelines"]


def components_left_out(profile: str) -> dict[str, bool]:
    """The `components` switches a small profile turns off: every component whose descriptor does not
    name it (Component.profiles). Opt in, so a component added without naming it stays out; the
    profiles without a `components` preset (full, ci) install every component."""
    kept = set(registry.members(profile))
    return {name: False for name in registry.names() if name not in kept}


# What each profile changes from the defaults (the user's own settings still win).
PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "minimal": {
        "cluster": {"workers": 1},
        "components": components_left_out("minimal"),
        "timeouts": {"ready": 1200},
    },
    "ci": {"forwards": {"auto": False}, "timeouts": {"ready": 2700}},
    # Kubeflow Pipelines and what it needs, its object store included; nothing else (docs/profiles-and-apps.md, 'Profiles').
    "pipelines": {
        "cluster": {"workers": 1},
        "kubeflow": {"apps": ["pipelines"], "sizing": "laptop"},
        "components": components_left_out("pipelines"),
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
