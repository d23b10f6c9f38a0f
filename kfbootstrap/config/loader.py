"""Loading: defaults < profile < kfbootstrap.yaml < KFBOOTSTRAP_* env < flags.

Everything is merged into one raw mapping, validated once by pydantic before any side
effect, and every error names the key and where it came from (file line, environment
variable or flag) so the user can fix it in one go.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from kfbootstrap import safeyaml
from kfbootstrap.config.explain import config_error
from kfbootstrap.config.profiles import PROFILE_PRESETS
from kfbootstrap.config.schema import Config
from kfbootstrap.errors import ConfigError
from kfbootstrap.releases import DEFAULT_RELEASE

CONFIG_FILE_NAME = "kfbootstrap.yaml"
# A complete kfbootstrap.yaml with every key is ~3 KB; anything near this is not one, and parsing
# 100 MB of YAML takes a minute before saying so.
MAX_CONFIG_BYTES = 1024 * 1024
ENV_PREFIX = "KFBOOTSTRAP_"
# Environment variables with our prefix that are not configuration keys.
ENV_NOT_CONFIG = {"KFBOOTSTRAP_CONFIG", "KFBOOTSTRAP_STATE_DIR", "KFBOOTSTRAP_CACHE_DIR"}


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
        raise config_error(exc, sources) from None
