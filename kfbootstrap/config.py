"""Typed, validated configuration: defaults < profile < kfbootstrap.yaml < KFBOOTSTRAP_* env < flags.

Everything is merged into one raw mapping, validated once by pydantic before any side
effect, and every error names the key and where it came from (file line, environment
variable or flag) so the user can fix it in one go.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from kfbootstrap import components as registry

from kfbootstrap.cache.registries import DEFAULT_UPSTREAMS
from kfbootstrap.errors import ConfigError
from kfbootstrap.releases import DEFAULT_RELEASE, RELEASES, Release, known_tags

CONFIG_FILE_NAME = "kfbootstrap.yaml"
# A complete kfbootstrap.yaml with every key is ~3 KB; anything near this is not one, and parsing
# 100 MB of YAML takes a minute before saying so.
MAX_CONFIG_BYTES = 1024 * 1024
ENV_PREFIX = "KFBOOTSTRAP_"
# Environment variables with our prefix that are not configuration keys.
ENV_NOT_CONFIG = {"KFBOOTSTRAP_CONFIG", "KFBOOTSTRAP_STATE_DIR", "KFBOOTSTRAP_CACHE_DIR"}

# The node image the default release's own CI creates its cluster with, pinned by digest.
DEFAULT_NODE_IMAGE = RELEASES[DEFAULT_RELEASE].tested.node_image
_REGISTRY_HOST = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Profile = Literal["full", "minimal", "ci", "pipelines"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterConfig(_Section):
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
        return _existing_path(value)

    @model_validator(mode="after")
    def _context_implies_existing(self) -> "ClusterConfig":
        if self.context:
            self.existing = True
        return self


class KubeflowConfig(_Section):
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
        from kfbootstrap.apps.catalog import CATALOGS, catalog_for

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
        return _existing_path(value)


class _ComponentsBase(_Section):
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


class _PortsBase(_Section):
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


class ForwardsConfig(_Section):
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


def _existing_path(value: Path | None) -> Path | None:
    if value is not None and not value.exists():
        raise ValueError(f"path {value} does not exist")
    return value


class ChartConfig(_Section):
    """Where one add-on's Helm chart comes from, and the user's values laid over ours."""

    version: str | None = Field(None, description="chart version (default: the version kfbootstrap pins)")
    path: Path | None = Field(None, description="local chart archive (.tgz) or directory, instead of the repository")
    values: Path | None = Field(None, description="values file merged over kfbootstrap's charts/<name>/values.yaml")

    _paths_exist = field_validator("path", "values")(_existing_path)


class GrafanaChartConfig(ChartConfig):
    admin_password: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of an environment variable holding Grafana's admin password "
        "(default: a random one, generated once)",
    )


# Charts whose section has keys of its own; every other chart gets a plain ChartConfig.
_CHART_SECTIONS: dict[str, type[ChartConfig]] = {"grafana": GrafanaChartConfig}


class _ChartsBase(_Section):
    """The Helm charts of the add-ons; local archives make `up` work offline."""

    helm: str = Field("helm", description="helm 3 or 4 executable: a name on PATH or a path")
    local_dir: Path | None = Field(
        None, description="directory holding <chart>-<version>.tgz (or <chart>/) for offline use"
    )

    _dir_exists = field_validator("local_dir")(_existing_path)


# One section per chart pinned in kfbootstrap/components.py.
ChartsConfig = create_model(
    "ChartsConfig",
    __base__=_ChartsBase,
    **{
        name: (section, Field(default_factory=section))
        for name, section in ((n, _CHART_SECTIONS.get(n, ChartConfig)) for n in registry.chart_pins())
    },
)  # type: ignore[call-overload]


class MetallbConfig(_Section):
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


class ModelRegistryConfig(_Section):
    """The Kubeflow model registry's kustomize overlays."""

    csi: bool = Field(False, description="also apply options/csi (the storage initializer for model-registry:// URIs)")
    path: Path | None = Field(
        None,
        description="manifests checkout, or a directory of pre-rendered "
        "model-registry-<db|istio|csi>.yaml[.xz] (default: kubeflow.path)",
    )

    _path_exists = field_validator("path")(_existing_path)


class CacheConfig(_Section):
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


MAX_WAIT_SECONDS = 7 * 24 * 3600  # a week: longer is a typo, and past what sockets and clocks accept
MAX_API_SECONDS = 3600  # one request: an hour is already far past any server that works


class TimeoutsConfig(_Section):
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


class Config(_Section):
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


# What each profile changes from the defaults (the user's own settings still win).
PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "minimal": {
        "cluster": {"workers": 1},
        "components": {"prometheus": False, "grafana": False, "metallb": False},
        "timeouts": {"ready": 1200},
    },
    "ci": {"forwards": {"auto": False}, "timeouts": {"ready": 2700}},
    # Kubeflow Pipelines and what it needs, its object store included; nothing else (README, 'Profiles').
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
    # Laptop sizing: 4.27 GiB requested with Kind's own pods (README's table), under 75% of 6 GiB; so an
    # 8 GB laptop passes before a render is at hand too (then the measured requests decide).
    "pipelines": ProfileNeeds(6, 2, 8, 4),
}
# A bare cluster (every component off) needs only what kind's nodes need.
CLUSTER_ONLY_NEEDS = ProfileNeeds(4, 2, 8, 4)


@dataclass
class LoadedConfig:
    """The validated config plus where each setting came from (for errors and `config show`)."""

    config: Config
    file: Path | None
    sources: dict[str, str] = field(default_factory=dict)


def load_config(
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Merge every layer, validate once, and raise ConfigError naming the key on any problem."""
    env = os.environ if env is None else env
    sources: dict[str, str] = {}
    file = _find_config_file(config_file, env, cwd or Path.cwd())
    raw: dict[str, Any] = {}
    if file is not None:
        _merge_layer(raw, *_read_file(file), sources)
    _merge_layer(raw, *_read_env(env), sources)
    _merge_layer(raw, *_read_flags(flags or {}, flag_names or {}), sources)
    config = _validate(_with_profile_preset(raw), sources)
    return LoadedConfig(config=config, file=file, sources=sources)


def profile_config(profile: str, version: str = DEFAULT_RELEASE) -> Config:
    """A profile's config with nothing else set (for comparing profiles: dry-run, README)."""
    return _validate(_with_profile_preset({"profile": profile, "kubeflow": {"version": version}}), {})


def _find_config_file(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if explicit is None and env.get("KFBOOTSTRAP_CONFIG"):
        explicit = Path(env["KFBOOTSTRAP_CONFIG"])
    if explicit is not None:
        if not explicit.is_file():
            raise _not_a_config_file(explicit)
        return explicit
    default = cwd / CONFIG_FILE_NAME
    return default if default.is_file() else None


def _not_a_config_file(path: Path) -> ConfigError:
    """Say what is there instead: 'not found' for a directory or a FIFO sends people looking in vain."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        return ConfigError(f"config file {path} not found", hint="check the path given to --config")
    kind = (
        "directory"
        if stat.S_ISDIR(mode)
        else "fifo"
        if stat.S_ISFIFO(mode)
        else "device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "socket"
        if stat.S_ISSOCK(mode)
        else "special file"
    )
    return ConfigError(f"config file {path} is a {kind}, not a file", hint="give --config a YAML file")


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse the YAML file and remember the line of every key for error messages."""
    from kfbootstrap import safeyaml

    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
            size = max(len(raw), os.fstat(stream.fileno()).st_size)
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {path} is {size / 1024**2:.1f} MiB; a {CONFIG_FILE_NAME} is at most "
                f"{MAX_CONFIG_BYTES // 1024**2} MiB",
                hint="is --config the right file? A complete configuration is a few KB "
                "(`kfbootstrap config show` prints one)",
            )
        text = raw.decode("utf-8")
        data, node = safeyaml.load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc}", hint="check the file's permissions and encoding"
        ) from None
    except safeyaml.YamlRefused as exc:
        raise ConfigError(
            f"config file {path}{f' line {exc.line}' if exc.line else ''}: {exc.problem}",
            hint="write each key once; use anchors only for plain copies",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"config file {path}{where}: {problem}", hint="fix the YAML syntax (indentation, colons, quotes)"
        ) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: top level must be a mapping of keys, not {type(data).__name__}",
            hint="start the file with keys such as `cluster:` or `profile:`",
        )
    lines = {key: f"{path.name} line {line}" for key, line in _key_lines(node).items()}
    return _resolve_paths(data, Config, path.parent), lines


def _resolve_paths(data: dict[str, Any], model: type[BaseModel], base: Path | None) -> dict[str, Any]:
    """Expand `~` in every path setting and, for a file's settings, read relative paths from the
    file's directory (as users expect of `values: ./my-grafana.yaml`), not from wherever we run."""
    for key, value in data.items():
        field_info = model.model_fields.get(key)
        if field_info is None:
            continue  # an unknown key: validation names it
        annotation = field_info.annotation
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _resolve_paths(value, annotation, base)
        elif isinstance(value, str) and Path in getattr(annotation, "__args__", ()):
            path = Path(value).expanduser()
            data[key] = str(path if path.is_absolute() or base is None else base / path)
    return data


def _key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    found: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = f"{prefix}{key_node.value}"
        found[key] = key_node.start_mark.line + 1
        found.update(_key_lines(value_node, key + "."))
    return found


def _read_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """KFBOOTSTRAP_CLUSTER__NAME=x sets cluster.name; `__` separates nesting levels."""
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var in ENV_NOT_CONFIG:
            continue
        # Only `__` nests: a dot belongs to the key (KFBOOTSTRAP_CACHE__REGISTRIES__DOCKER.IO is docker.io's).
        parts = [part.lower() for part in var[len(ENV_PREFIX) :].split("__")]
        _set_path(data, parts, value)
        sources[".".join(parts)] = f"environment {var}"
    return _resolve_paths(data, Config, None), sources


def _read_flags(flags: Mapping[str, Any], flag_names: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Flags arrive as {dotted.key: value}; None means 'not given'. `flag_names` maps keys to flags named otherwise."""
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in flags.items():
        if value is None:
            continue
        _set_dotted(data, key, value)
        sources[key] = "flag " + flag_names.get(key, f"--{key.split('.')[-1].replace('_', '-')}")
    return data, sources


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    _set_path(data, key.split("."), value)


def _set_path(data: dict[str, Any], parts: list[str], value: Any) -> None:
    *parents, leaf = parts
    for part in parents:
        child = data.setdefault(part, {})
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[leaf] = value


def _merge_layer(
    into: dict[str, Any], layer: dict[str, Any], layer_sources: dict[str, str], sources: dict[str, str]
) -> None:
    _deep_merge(into, layer)
    sources.update(layer_sources)


def _deep_merge(into: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
    return into


def _with_profile_preset(raw: dict[str, Any]) -> dict[str, Any]:
    """Lay the user's settings over the chosen profile's preset."""
    profile = raw.get("profile", "full")
    preset = PROFILE_PRESETS.get(profile, {}) if isinstance(profile, str) else {}
    return _deep_merge(copy.deepcopy(preset), raw)


def _validate(raw: dict[str, Any], sources: dict[str, str]) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, sources) from None


def _config_error(exc: ValidationError, sources: dict[str, str]) -> ConfigError:
    """Turn pydantic's report into one line: key, where it was set, what is wrong, and a hint."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    where = _source_of(key, sources)
    message = f"config key `{key}`{f' ({where})' if where else ''}: {_describe(first)}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(message, hint=_hint_for(first, key))


def _describe(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    text = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] != "missing" and not isinstance(value, (dict, list)) and str(value) not in text:
        shown = str(value) if isinstance(value, Path) else repr(value)
        text += f" (got {shown if len(shown) <= 80 else shown[:80] + f'… ({len(shown)} characters)'})"
    return text


def _hint_for(error: Mapping[str, Any], key: str) -> str:
    if error["type"] == "extra_forbidden":
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        valid = _valid_keys(parent)
        return f"valid keys{f' under {parent}' if parent else ''}: {', '.join(valid)}" if valid else "remove the key"
    if key == "kubeflow.apps" and "parts table" in str(error["msg"]):
        from kfbootstrap.apps.catalog import CATALOGS

        release = DEFAULT_RELEASE if DEFAULT_RELEASE in CATALOGS else list(CATALOGS)[-1]
        return (
            f"use --kubeflow-version {release}, or leave kubeflow.apps (and the pipelines profile, "
            "which sets it) out to install everything of that release"
        )
    return "see `kfbootstrap config schema` for every key, its type and allowed values"


def _valid_keys(parent: str) -> list[str]:
    model: type[BaseModel] = Config
    for part in [p for p in parent.split(".") if p]:
        annotation = model.model_fields.get(part)
        if (
            annotation is None
            or not isinstance(annotation.annotation, type)
            or not issubclass(annotation.annotation, BaseModel)
        ):
            return []
        model = annotation.annotation
    return list(model.model_fields)


def _source_of(key: str, sources: Mapping[str, str]) -> str:
    """The longest prefix of `key` that a layer set, e.g. the env var that created a bad section."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:end]))
        if found:
            return found
    # A bad section made only by deeper keys (KFBOOTSTRAP_CLUSTR__NAME makes `clustr`).
    return next((source for set_key, source in sources.items() if set_key.startswith(key + ".")), "")


def config_schema() -> dict[str, Any]:
    """JSON schema of kfbootstrap.yaml, for editors."""
    schema = Config.model_json_schema()
    schema["title"] = "kfbootstrap.yaml"
    return schema


def config_as_yaml(loaded: LoadedConfig) -> str:
    data = loaded.config.model_dump(mode="json")
    header = f"# effective configuration (file: {loaded.file or 'none'})\n"
    return header + yaml.safe_dump(data, sort_keys=False)
