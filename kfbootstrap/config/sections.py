"""The hand-written sections of kfbootstrap.yaml: what each key means and which values it accepts."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from kfbootstrap.image_refs import DEFAULT_UPSTREAMS
from kfbootstrap.release_parts import CATALOGS, catalog_for
from kfbootstrap.releases import DEFAULT_RELEASE, RELEASES, known_tags

# The node image the default release's own CI creates its cluster with, pinned by digest.
DEFAULT_NODE_IMAGE = RELEASES[DEFAULT_RELEASE].tested.node_image
_REGISTRY_HOST = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterConfig(Section):
    """The Kind cluster we create, or the existing cluster we install onto."""

    name: str = Field(
        "kubeflow",
        description="Kind cluster name (kube context kind-<name>)",
        json_schema_extra={"pattern": _DNS_LABEL.pattern, "maxLength": 40},
    )
    existing: bool = Field(False, description="install onto an existing cluster instead of creating one")
    context: str | None = Field(None, description="kube context of an existing cluster (implies existing)")
    node_image: str = Field(DEFAULT_NODE_IMAGE, description="kindest/node image, pinned by digest")
    workers: int = Field(2, ge=0, le=10, description="number of Kind worker nodes")
    kind_config: Path | None = Field(None, description="base Kind config (default: the packaged kind-config.yaml)")

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, value: str) -> str:
        if len(value) <= 40 and _DNS_LABEL.match(value):
            return value
        wrong = next((c for c in value if not (c.isascii() and (c.islower() or c.isdigit() or c == "-"))), None)
        if not value:
            why = "is empty"
        elif len(value) > 40:
            why = f"is {len(value)} characters long"
        elif wrong is not None:
            why = f"has {wrong!r}"
        else:  # only the first or the last character can be wrong now: a '-'
            why = "starts with '-'" if value.startswith("-") else "ends with '-'"
        raise ValueError(
            f"{why}: a cluster name is lower-case letters, digits and '-', starts and ends with a letter or "
            "digit, and has at most 40 characters (it becomes part of DNS names)"
        )

    @field_validator("kind_config")
    @classmethod
    def _kind_config_exists(cls, value: Path | None) -> Path | None:
        return existing_path(value)

    @model_validator(mode="after")
    def _context_implies_existing(self) -> "ClusterConfig":
        if self.context:
            self.existing = True
        return self


class KubeflowConfig(Section):
    """Which Kubeflow manifests to install."""

    version: str = Field(
        DEFAULT_RELEASE,
        description="Kubeflow community-distribution (ex kubeflow/manifests) release",
        json_schema_extra={"enum": list(RELEASES)},
    )
    path: Path | None = Field(None, description="local manifests checkout, or pre-rendered YAML file/dir")
    password: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of an environment variable holding the Dex user's password "
        "(default: a random one, kept in the cluster)",
    )
    keep_default_password: bool = Field(False, description="keep upstream's public default password 12341234")
    apps: list[str] | None = Field(
        None,
        description="applications of the release to install, e.g. [pipelines, kserve] "
        "(default: everything `example` has); see `up --dry-run`",
    )
    remove_dropped: bool = Field(
        False,
        description="delete what an earlier `up` installed for apps no longer chosen "
        "(their CRDs and every custom resource of them included)",
    )
    sizing: Literal["upstream", "laptop"] = Field(
        "upstream",
        description="resource requests: upstream's production sizing, or `laptop` (Istio's demo-profile "
        "requests for istiod, the gateway, CNI and sidecars; the pipelines profile's default)",
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> "KubeflowConfig":
        if self.password and self.keep_default_password:
            raise ValueError("password and keep_default_password exclude each other")
        return self

    @field_validator("apps", mode="before")
    @classmethod
    def _apps_list(cls, value: Any) -> Any:
        """`--apps pipelines,kserve` and KFBOOTSTRAP_KUBEFLOW__APPS=pipelines,kserve arrive as one string."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("apps")
    @classmethod
    def _apps_known(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        """Apps of the chosen release's catalog (`version` is validated first: it is declared first)."""
        if value is None:
            return value
        version = info.data.get("version", DEFAULT_RELEASE)
        catalog = catalog_for(version)
        if catalog is None:
            raise ValueError(
                f"choosing applications needs a release kfbootstrap has a parts table for "
                f"({', '.join(CATALOGS)}); {version} has none"
            )
        unknown = [app for app in value if app not in catalog.apps()]
        if unknown or not value:
            raise ValueError(
                f"unknown application(s) {', '.join(unknown) or '(none given)'}; "
                f"{version} has: {', '.join(catalog.apps())}"
            )
        return value

    @field_validator("version")
    @classmethod
    def _known_release(cls, value: str) -> str:
        if value not in RELEASES:
            raise ValueError(f"unknown release {value!r}; known: {known_tags()}")
        return value

    @field_validator("path")
    @classmethod
    def _path_exists(cls, value: Path | None) -> Path | None:
        return existing_path(value)


def existing_path(value: Path | None) -> Path | None:
    if value is not None and not value.exists():
        raise ValueError(f"path {value} does not exist")
    return value


class ChartConfig(Section):
    """Where one add-on's Helm chart comes from, and the user's values laid over ours."""

    version: str | None = Field(None, description="chart version (default: the version kfbootstrap pins)")
    path: Path | None = Field(None, description="local chart archive (.tgz) or directory, instead of the repository")
    values: Path | None = Field(None, description="values file merged over kfbootstrap's charts/<name>/values.yaml")

    _paths_exist = field_validator("path", "values")(existing_path)


class GrafanaChartConfig(ChartConfig):
    admin_password: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of an environment variable holding Grafana's admin password "
        "(default: a random one, generated once)",
    )


class MetallbConfig(Section):
    """MetalLB's address pool: by default the high end of the docker network's IPv4 subnet."""

    address_pool: str | None = Field(
        None,
        description="pool as 'first-last' or a CIDR; overrides the docker network",
        json_schema_extra={"examples": ["172.18.255.200-172.18.255.250", "172.18.255.0/24"]},
    )
    docker_network: str = Field("kind", description="docker network the pool is taken from")

    @field_validator("address_pool")
    @classmethod
    def _valid_pool(cls, value: str | None) -> str | None:
        if value is not None:
            first, _, last = value.partition("-")
            if last:
                low, high = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
                if low.version != high.version:  # comparing them would raise TypeError
                    raise ValueError(f"mixes IPv{low.version} and IPv{high.version}; give both ends in one family")
                if int(low) > int(high):  # one family (checked above), so their numbers compare
                    raise ValueError("first address is above the last")
            else:
                ipaddress.ip_network(value.strip(), strict=False)
        return value


class ModelRegistryConfig(Section):
    """The Kubeflow model registry's kustomize overlays."""

    csi: bool = Field(False, description="also apply options/csi (the storage initializer for model-registry:// URIs)")
    path: Path | None = Field(
        None,
        description="manifests checkout, or a directory of pre-rendered "
        "model-registry-<db|istio|csi>.yaml[.xz] (default: kubeflow.path)",
    )

    _path_exists = field_validator("path")(existing_path)


class CacheConfig(Section):
    """The pull-through image cache shared by every Kind cluster kfbootstrap creates."""

    enabled: bool = Field(True, description="run one pull-through registry per upstream and point every node at it")
    image: str = Field("registry:3", description="CNCF Distribution registry image the caches run")
    network: str = Field("kind", description="docker network the nodes and the caches share")
    registries: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_UPSTREAMS),
        description="registry as images name it -> URL of its API (the upstream)",
    )

    @field_validator("registries")
    @classmethod
    def _valid_registries(cls, value: dict[str, str]) -> dict[str, str]:
        for host, remote in value.items():
            if not _REGISTRY_HOST.match(host):
                raise ValueError(f"{host!r} is not a registry host (host or host:port, as images name it)")
            if not remote.startswith(("https://", "http://")):
                raise ValueError(f"upstream of {host} must be an http(s):// URL, not {remote!r}")
        return value


class ServeConfig(Section):
    """`kfbootstrap serve`: where models go and how they are reached."""

    namespace: str = Field(
        "kubeflow-user-example-com",
        description="namespace models are served in (the default Kubeflow profile's)",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
    )
    port: int = Field(8500, ge=1, le=65535 - 99, description="first local port tried for a model's forward")


# KServe's public sklearn iris example, what KServe's own quick start serves.
DEFAULT_SMOKE_MODEL = "gs://kfserving-examples/models/sklearn/1.0/model"


class SmokeConfig(Section):
    """What `kfbootstrap smoke` uses beyond the platform itself."""

    kserve_model: str = Field(
        DEFAULT_SMOKE_MODEL,
        description="sklearn iris model the KServe check serves: a storage URI KServe downloads, or a local path",
    )


MAX_WAIT_SECONDS = 7 * 24 * 3600  # a week: longer is a typo, and past what sockets and clocks accept
MAX_API_SECONDS = 3600  # one request: an hour is already far past any server that works


class TimeoutsConfig(Section):
    """Deadlines in seconds; every wait reports what it last saw when one passes."""

    cluster: int = Field(600, gt=0, le=MAX_WAIT_SECONDS, description="create the Kind cluster")
    apply: int = Field(1200, gt=0, le=MAX_WAIT_SECONDS, description="apply manifests until they converge")
    ready: int = Field(1800, gt=0, le=MAX_WAIT_SECONDS, description="wait for every workload to be ready")
    api: int = Field(
        60,
        gt=0,
        le=MAX_API_SECONDS,
        description="one Kubernetes API request: the answer (connecting gets 10s at most)",
    )
    serve: int = Field(600, gt=0, le=MAX_WAIT_SECONDS, description="`serve`: wait for the model to answer")
