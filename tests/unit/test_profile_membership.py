"""Profile membership is opt in, declared on the descriptor (Component.profiles).

A component added to the registry alone (in a fresh interpreter, before the config is imported,
as an edit of kfbootstrap/components.py would add it) is in exactly the small profiles it names,
and in full and ci, which install every component.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from kfbootstrap import components
from kfbootstrap.config import PROFILE_PRESETS, profile_config

REPO = Path(__file__).resolve().parents[2]
PROFILES = list(PROFILE_PRESETS)


def _profiles_installing(descriptors: str) -> dict[str, list[str]]:
    """For each fake component the descriptors add: the profiles whose config switches it on."""
    program = textwrap.dedent(f"""
        import json
        from kfbootstrap import components
        from kfbootstrap.components import Component, Scope

        FAKES = ({descriptors},)
        components.COMPONENTS = components.COMPONENTS + FAKES

        from kfbootstrap.config import profile_config

        print(json.dumps({{
            fake.name: [p for p in {PROFILES!r} if profile_config(p).components.on(fake.name)]
            for fake in FAKES
        }}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_component_is_in_exactly_the_small_profiles_it_names_and_in_full_and_ci():
    found = _profiles_installing(
        'Component("loner", "Loner", "x:Y", scopes=(Scope("loner"),)), '
        'Component("piper", "Piper", "x:Y", scopes=(Scope("piper"),), profiles=("pipelines",)), '
        'Component("both", "Both", "x:Y", scopes=(Scope("both"),), profiles=("minimal", "pipelines"))'
    )
    assert found == {
        "loner": ["full", "ci"],
        "piper": ["full", "ci", "pipelines"],
        "both": ["full", "minimal", "ci", "pipelines"],
    }
    assert "loner" not in components.names()  # this interpreter's registry never had them


def test_the_small_profiles_install_what_they_installed_before_membership_moved_to_the_descriptors():
    on = {profile: profile_config(profile).components.enabled() for profile in PROFILES}
    everything = components.names()
    assert on["full"] == everything and on["ci"] == everything
    assert on["minimal"] == ["kubeflow", "kserve", "model_registry", "object_store"]
    # The pipelines profile chooses the pipelines app, which switches KServe and the model registry off.
    assert on["pipelines"] == ["kubeflow", "object_store"]


def test_descriptors_name_only_profiles_that_keep_only_their_members():
    named = {profile for component in components.COMPONENTS for profile in component.profiles}
    opt_in = {profile for profile, preset in PROFILE_PRESETS.items() if "components" in preset}
    assert named == opt_in == {"minimal", "pipelines"}
