"""The component registry is the one table: everything it names exists, and the tables derived from it agree."""

from __future__ import annotations

import importlib

import pytest

from kfbootstrap import components
from kfbootstrap.config import Config


@pytest.mark.parametrize("component", components.COMPONENTS, ids=lambda c: c.name)
def test_each_descriptor_names_things_that_exist(component):
    from kfbootstrap.smoke.plan import all_checks

    module, _, cls = component.step.partition(":")
    step = getattr(importlib.import_module(module), cls)(Config())
    assert step.name == component.name
    checks = {check.name: check.component for check in all_checks(with_pipeline=True)}
    assert all(checks[name] == component.name for name in component.smoke)
    assert all(target.component == component.name for target in component.targets)
    assert component.chart is None or component.chart.name == component.name


def test_the_config_sections_are_the_registry():
    config = Config()
    assert config.components.enabled() == components.names()
    assert set(config.forwards.ports.model_dump()) == {t.port_key for t in components.targets().values()}
    assert {t.port_key: t.default_port for t in components.targets().values()} == config.forwards.ports.model_dump()
    assert set(components.chart_pins()) <= set(config.charts.model_dump())


def test_every_creds_target_has_a_reader():
    from kfbootstrap.access import creds

    for name in components.creds_targets():
        assert callable(getattr(creds, f"{name}_creds")), name
