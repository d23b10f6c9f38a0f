"""The component registry is the one table: everything it names exists, and the tables derived from it agree."""

from __future__ import annotations

import pytest

from kfbootstrap import components
from kfbootstrap.config import Config


@pytest.mark.parametrize("component", components.COMPONENTS, ids=lambda c: c.name)
def test_each_descriptor_names_things_that_exist(component):
    from kfbootstrap.pipeline import component_step
    from kfbootstrap.smoke.plan import all_checks

    assert component_step(component).name == component.name
    checks = {check.name: check for check in all_checks(with_pipeline=True)}
    assert all(checks[c.name].component == component.name and callable(checks[c.name].run) for c in component.smoke)
    assert all(target.component == component.name for target in component.targets)
    assert component.chart is None or component.chart.name == component.name


def test_the_config_sections_are_the_registry():
    config = Config()
    assert config.components.enabled() == components.names()
    assert set(config.forwards.ports.model_dump()) == {t.port_key for t in components.targets().values()}
    assert {t.port_key: t.default_port for t in components.targets().values()} == config.forwards.ports.model_dump()
    assert set(components.chart_pins()) <= set(config.charts.model_dump())


def test_every_creds_target_has_a_reader():
    for name in components.creds_targets():
        assert callable(components.resolve(components.creds_reader(name))), name


def test_a_chart_without_special_needs_gets_the_generic_helm_step():
    from kfbootstrap.pipeline import component_step
    from kfbootstrap.steps.helm_release import HelmReleaseStep

    prometheus = components.get("prometheus")
    assert prometheus.step == "" and type(component_step(prometheus)) is HelmReleaseStep
    assert component_step(prometheus).pin == prometheus.chart


def test_every_smoke_check_talks_to_a_service_the_registry_gives():
    from kfbootstrap.smoke.plan import all_checks, services_for

    services = services_for(Config())
    assert {check.service for check in all_checks(with_pipeline=True)} <= set(services)
    # The Service a component's checks use is its first forward target's.
    assert services["grafana"].names == ("grafana",) and services["object_store"].port == 9000


def test_preflight_disk_sums_what_the_enabled_components_declare():
    from kfbootstrap.preflight.disk import NODE_IMAGE_GIB, needs_gib

    everything = needs_gib(Config())
    assert everything == (
        NODE_IMAGE_GIB + sum(c.images_gib for c in components.COMPONENTS),
        sum(c.volumes_gib for c in components.COMPONENTS),
    )
    only_kubeflow = Config(components={name: name == "kubeflow" for name in components.names()})
    assert needs_gib(only_kubeflow) == (NODE_IMAGE_GIB + components.get("kubeflow").images_gib, 65.0)
