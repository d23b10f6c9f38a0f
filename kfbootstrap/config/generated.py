"""The sections generated from the component registry (kfbootstrap/components.py): one switch per
component, one local port per forward target, one chart section per pinned chart."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, create_model, field_validator, model_validator

from kfbootstrap import components as registry
from kfbootstrap.config.sections import ChartConfig, GrafanaChartConfig, existing_path, Section


class _ComponentsBase(Section):
    """Switch components on or off."""

    def enabled(self) -> list[str]:
        return [name for name, on in self.model_dump().items() if on]

    def on(self, name: str) -> bool:
        return bool(getattr(self, name))

    def switch_off(self, name: str) -> None:
        """The switches are made from the registry, so their names are only known at run time."""
        setattr(self, name, False)


# One switch per component of kfbootstrap/components.py, all on by default.
ComponentsConfig = create_model(
    "ComponentsConfig",
    __base__=_ComponentsBase,
    **{c.name: (bool, Field(True, description=f"install {c.title}")) for c in registry.COMPONENTS},
)  # type: ignore[call-overload]


class _PortsBase(Section):
    """Local ports of the forwards `up` and `expose` start."""

    @model_validator(mode="after")
    def _unique(self) -> "_PortsBase":
        seen: dict[int, str] = {}
        for name, port in self.model_dump().items():
            if port in seen:
                raise ValueError(f"port {port} is used by both {seen[port]} and {name}")
            seen[port] = name
        return self


# One local port per forward target of kfbootstrap/components.py.
PortsConfig = create_model(
    "PortsConfig",
    __base__=_PortsBase,
    **{
        t.port_key: (int, Field(t.default_port, ge=1, le=65535, description=f"local port of `expose {t.name}`"))
        for t in registry.targets().values()
    },
)  # type: ignore[call-overload]


# Charts whose section has keys of its own; every other chart gets a plain ChartConfig.
_CHART_SECTIONS: dict[str, type[ChartConfig]] = {"grafana": GrafanaChartConfig}


class _ChartsBase(Section):
    """The Helm charts of the add-ons; local archives make `up` work offline."""

    helm: str = Field("helm", description="helm 3 or 4 executable: a name on PATH or a path")
    local_dir: Path | None = Field(
        None, description="directory holding <chart>-<version>.tgz (or <chart>/) for offline use"
    )

    _dir_exists = field_validator("local_dir")(existing_path)


# One section per chart pinned in kfbootstrap/components.py.
ChartsConfig = create_model(
    "ChartsConfig",
    __base__=_ChartsBase,
    **{
        name: (section, Field(default_factory=section))
        for name, section in ((n, _CHART_SECTIONS.get(n, ChartConfig)) for n in registry.chart_pins())
    },
)  # type: ignore[call-overload]
