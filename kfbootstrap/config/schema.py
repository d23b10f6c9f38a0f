"""The whole kfbootstrap.yaml: the sections put together, and what one setting implies for another."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from kfbootstrap.config.generated import ChartsConfig, ComponentsConfig, PortsConfig
from kfbootstrap.config.profiles import Profile
from kfbootstrap.config.sections import (
    CacheConfig,
    ClusterConfig,
    KubeflowConfig,
    MetallbConfig,
    ModelRegistryConfig,
    ServeConfig,
    SmokeConfig,
    TimeoutsConfig,
    Section,
)
from kfbootstrap.releases import RELEASES, Release


class ForwardsConfig(Section):
    auto: bool = Field(True, description="start background port-forwards at the end of `up`")
    address: str = Field(
        "127.0.0.1",
        description="address forwards bind to; anything else is exposed to your network",
        json_schema_extra={"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"const": "localhost"}]},
    )
    ports: PortsConfig = Field(default_factory=PortsConfig)

    @field_validator("address")
    @classmethod
    def _is_ip(cls, value: str) -> str:
        if value != "localhost":
            ipaddress.ip_address(value)  # raises ValueError with a clear message
        return value


class Config(Section):
    """The effective kfbootstrap configuration."""

    profile: Profile = "full"
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    kubeflow: KubeflowConfig = Field(default_factory=KubeflowConfig)
    components: ComponentsConfig = Field(default_factory=ComponentsConfig)
    forwards: ForwardsConfig = Field(default_factory=ForwardsConfig)
    charts: ChartsConfig = Field(default_factory=ChartsConfig)
    metallb: MetallbConfig = Field(default_factory=MetallbConfig)
    model_registry: ModelRegistryConfig = Field(default_factory=ModelRegistryConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    smoke: SmokeConfig = Field(default_factory=SmokeConfig)

    @model_validator(mode="after")
    def _steps_follow_apps(self) -> "Config":
        """The separate KServe and model-registry steps install apps too: off when those apps are not chosen."""
        if self.kubeflow.apps is not None:
            if "kserve" not in self.kubeflow.apps:
                self.components.switch_off("kserve")
            if "hub" not in self.kubeflow.apps:
                self.components.switch_off("model_registry")
            if "pipelines" not in self.kubeflow.apps:
                self.components.switch_off("object_store")  # the pipelines' object store
        return self

    @property
    def kube_context(self) -> str | None:
        """The kube context we talk to: the one given, Kind's for our cluster, or None for the current one."""
        if self.cluster.context:
            return self.cluster.context
        return None if self.cluster.existing else f"kind-{self.cluster.name}"

    @property
    def release(self) -> Release:
        """The facts of the chosen Kubeflow release (kfbootstrap/releases.py)."""
        return RELEASES[self.kubeflow.version]
