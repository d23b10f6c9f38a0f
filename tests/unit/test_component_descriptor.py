"""The loki experiment: a Helm add-on defined by its descriptor and a values file alone gets everything else.

The fixture adds a `loki` Component to the registry of a fresh interpreter, before anything else
of kfbootstrap is imported (as an edit of kfbootstrap/components.py would), with a values file and a
module holding its smoke check and creds reader; it is gone when that interpreter ends, and this
one's registry never sees it. Each test then asks the product, as `up`, `status`, `expose`,
`smoke`, `creds` and preflight do, what follows from the descriptor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kfbootstrap import components

REPO = Path(__file__).resolve().parents[2]

PLUGIN = """
def loki_ready(ctx):
    return "ready"


def loki_creds(kube, config, namespace=None):
    return {"target": "loki", "namespace": namespace or "monitoring"}
"""

# Added to the registry of the child interpreter; VALUES is the fixture's values file.
DESCRIPTOR = """
from kfbootstrap import components
from kfbootstrap.components import ChartPin, Component, Creds, Scope, SmokeCheck, Target

LOKI = Component(
    "loki",
    "Loki",
    scopes=(Scope("monitoring", (("app.kubernetes.io/instance", "loki"),)),),
    version_from=("loki",),
    targets=(Target("loki", "loki", "loki", 3100, "monitoring", ("loki-gateway", "loki"), 80, path="/ready"),),
    creds=(Creds("loki", "loki_plugin:loki_creds"),),
    chart=ChartPin("loki", "loki", "6.16.0", "https://charts.example.test", "loki", "monitoring", values=VALUES),
    smoke=(SmokeCheck("loki-ready", "Loki /ready", "loki_plugin:loki_ready"),),
    images_gib=0.4,
    volumes_gib=10.0,
)
components.COMPONENTS = components.COMPONENTS + (LOKI,)
"""


@pytest.fixture
def with_loki(tmp_path):
    """Run code in an interpreter whose registry has loki; its last expression's JSON comes back."""
    values = tmp_path / "values.yaml"
    values.write_text("deploymentMode: SingleBinary\nsingleBinary:\n  replicas: 1\n")
    (tmp_path / "loki_plugin.py").write_text(PLUGIN)

    def run(code: str):
        program = f"VALUES = {str(values)!r}\n" + DESCRIPTOR + textwrap.dedent(code)
        done = subprocess.run(
            [sys.executable, "-c", program],
            cwd=tmp_path,
            env={"PYTHONPATH": f"{REPO}:{tmp_path}", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    yield run
    assert "loki" not in components.names()  # this interpreter's registry never had it


def test_up_installs_it_with_the_generic_helm_step_its_chart_pin_and_values(with_loki):
    found = with_loki("""
        import json
        from kfbootstrap.config import load_config
        from kfbootstrap.context import RunContext
        from kfbootstrap.pipeline import build_steps
        from kfbootstrap.steps.helm_release import HelmReleaseStep

        config = load_config(None, {"charts.loki.version": "6.17.0"}, env={}).config
        steps = build_steps(config)
        loki = next(step for step in steps if step.name == "loki")
        ctx = RunContext(config=config, runner=None)
        source, values = loki.wanted(ctx)
        print(json.dumps({
            "names": [step.name for step in steps],
            "generic": type(loki) is HelmReleaseStep,
            "pin": [loki.pin.chart, loki.pin.version, loki.pin.release, loki.pin.namespace],
            "heading": loki.heading(ctx),
            "source": [source.ref, source.repo, source.version],
            "values": values,
        }))
    """)
    assert found["generic"] and found["pin"] == ["loki", "6.16.0", "loki", "monitoring"]
    # After the other components (install order is the registry's), before the wait for all of them.
    assert found["names"][-3:] == ["loki", "wait", "forwards"]
    assert found["heading"] == "Install Loki (loki chart 6.17.0)"
    assert found["source"] == ["loki", "https://charts.example.test", "6.17.0"]
    assert found["values"] == {"deploymentMode": "SingleBinary", "singleBinary": {"replicas": 1}}


def test_the_config_gets_its_switch_chart_section_and_forward_port(with_loki):
    found = with_loki("""
        import json
        from kfbootstrap.config import Config, load_config

        default = Config()
        off = load_config(None, {"components.loki": False, "forwards.ports.loki": 3200}, env={}).config
        print(json.dumps({
            "switch": default.components.on("loki"),
            "chart": default.charts.loki.model_dump(mode="json"),
            "port": default.forwards.ports.loki,
            "off": [off.components.on("loki"), off.forwards.ports.loki],
            "schema": "loki" in Config.model_json_schema()["$defs"]["ComponentsConfig"]["properties"],
        }))
    """)
    assert found["switch"] is True and found["port"] == 3100
    assert found["chart"] == {"version": None, "path": None, "values": None}
    assert found["off"] == [False, 3200]
    assert found["schema"]


def test_status_scopes_its_workloads_and_expose_and_smoke_and_creds_find_it(with_loki):
    found = with_loki("""
        import json
        from types import SimpleNamespace

        from kfbootstrap.access.creds import read_creds
        from kfbootstrap.access.targets import enabled_targets, get_target, local_port
        from kfbootstrap.components import for_release, owner
        from kfbootstrap.config import Config
        from kfbootstrap.smoke.plan import all_checks, services_for

        config = Config()
        def workload(instance):
            return SimpleNamespace(namespace="monitoring", name=instance, labels={"app.kubernetes.io/instance": instance})
        scoped = for_release(config.release)
        target = get_target("loki")
        check = next(c for c in all_checks() if c.name == "loki-ready")
        service = services_for(config)[check.service]
        print(json.dumps({
            "owners": [owner(workload("loki"), scoped), owner(workload("prometheus"), scoped)],
            "target": [target.component, local_port(target, config), target.path],
            "enabled": "loki" in [t.name for t in enabled_targets(config)],
            "check": [check.component, check.run(None)],
            "service": [service.namespace, list(service.names), service.port],
            "creds": read_creds("loki", None, config, "logs"),
        }))
    """)
    assert found["owners"] == ["loki", "prometheus"]
    assert found["target"] == ["loki", 3100, "/ready"] and found["enabled"]
    assert found["check"] == ["loki", "ready"]
    assert found["service"] == ["monitoring", ["loki-gateway", "loki"], 80]
    assert found["creds"] == {"target": "loki", "namespace": "logs"}


def test_preflight_counts_its_disk_when_it_is_on(with_loki):
    found = with_loki("""
        import json
        from kfbootstrap.config import Config
        from kfbootstrap.preflight.disk import needs_gib

        print(json.dumps([needs_gib(Config()), needs_gib(Config(components={"loki": False}))]))
    """)
    (images_on, volumes_on), (images_off, volumes_off) = found
    assert round(images_on - images_off, 3) == 0.4 and round(volumes_on - volumes_off, 3) == 10.0


def test_it_joins_no_profile_it_does_not_name(with_loki):
    """Opt in: the small profiles (minimal, pipelines) leave out a component that does not name them; the full
    profile installs every component."""
    asked = """
        import json
        from kfbootstrap.config import load_config

        print(json.dumps({
            profile: load_config(None, {"profile": profile}, env={}).config.components.on("loki")
            for profile in ("full", "minimal", "pipelines")
        }))
    """
    assert with_loki(asked) == {"full": True, "minimal": False, "pipelines": False}
    naming_minimal = """
        import dataclasses
        components.COMPONENTS = components.COMPONENTS[:-1] + (dataclasses.replace(LOKI, profiles=("minimal",)),)
    """
    assert with_loki(naming_minimal + asked) == {"full": True, "minimal": True, "pipelines": False}
