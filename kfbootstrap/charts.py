"""The Helm charts of the add-ons: pinned versions, where each chart comes from, and our values.

Each component's descriptor (kfbootstrap/components.py) pins chart, version and
repository (a version bump is a one-line change reviewed with its values file). A chart comes from its repository
unless the config points at a local archive or directory (offline machines, tests).
Our values live in charts/<name>/values.yaml at the top of the repository (shipped
in the package as kfbootstrap/data/charts); a user's `charts.<name>.values` file is
merged over them.
"""

from __future__ import annotations

import copy
import re
import tarfile
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from kfbootstrap.components import ChartPin, chart_pins
from kfbootstrap.config import ChartConfig, ChartsConfig, Config
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.tools.helm import ChartSource


CHART_PINS: dict[str, ChartPin] = chart_pins()


BUNDLED_CHARTS = "charts"  # the subdirectory of a `render --out` directory holding the chart archives


def bundled_dir(config: Config) -> Path | None:
    """DIR/charts when kubeflow.path is a directory `render --out DIR` wrote charts into."""
    path = config.kubeflow.path
    if path is not None and (path / BUNDLED_CHARTS).is_dir():
        return path / BUNDLED_CHARTS
    return None


def chart_source(pin: ChartPin, charts: ChartsConfig, bundled: Path | None = None) -> ChartSource:
    """Where to take the chart from: charts.<name>.path, then charts.local_dir, then the charts
    `render --out` bundled next to the manifests, then the repository."""
    override: ChartConfig = getattr(charts, pin.name)
    version = override.version or pin.version
    if override.path is not None:
        found = local_chart_version(override.path)
        if override.version and found != override.version:
            raise ConfigError(
                f"charts.{pin.name}.path {override.path} holds {pin.chart} {found}, "
                f"not charts.{pin.name}.version {override.version}",
                hint=f"remove charts.{pin.name}.version or point the path at {pin.chart} {override.version}",
            )
        return ChartSource(str(override.path), None, found, str(override.path))
    for directory in (charts.local_dir, bundled):
        if directory is not None:
            path = _find_in_dir(directory, pin, version)
            return ChartSource(str(path), None, version, str(path))
    return ChartSource(pin.chart, pin.repo, version, f"{pin.repo} (repository)")


def _find_in_dir(directory: Path, pin: ChartPin, version: str) -> Path:
    """<chart>-<version>.tgz, or a <chart>-<version>/ or <chart>/ directory at that version."""
    candidates = [directory / f"{pin.chart}-{version}.tgz", directory / f"{pin.chart}-{version}", directory / pin.chart]
    for path in candidates:
        if path.exists() and local_chart_version(path) == version:
            return path
    present = sorted(p.name for p in directory.glob(f"{pin.chart}*"))
    raise ConfigError(
        f"charts.local_dir {directory} has no {pin.chart} chart at version {version}"
        + (f" (found: {', '.join(present)})" if present else ""),
        hint=f"add {pin.chart}-{version}.tgz (`helm pull {pin.chart} --repo {pin.repo} --version {version}`), "
        f"or set charts.{pin.name}.version / charts.{pin.name}.path to the one you have",
    )


_CHART_YAML = re.compile(r"^[^/]+/Chart\.yaml$")


def local_chart_version(path: Path) -> str:
    """The version in a chart directory's or archive's top-level Chart.yaml."""
    try:
        if path.is_dir():
            text = (path / "Chart.yaml").read_text(encoding="utf-8")
        else:
            with tarfile.open(path, "r:*") as archive:
                member = next(m for m in archive.getmembers() if _CHART_YAML.match(m.name))
                text = archive.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
        version = (yaml.safe_load(text) or {}).get("version")
    except (OSError, StopIteration, tarfile.TarError, yaml.YAMLError, UnicodeDecodeError, AttributeError) as exc:
        raise KfbError(
            f"{path} is not a Helm chart (no readable Chart.yaml): {exc or 'not found'}",
            hint="point the config at a chart directory or a `helm package`d .tgz",
        ) from None
    if not version:
        raise KfbError(f"{path}: Chart.yaml has no version", hint="package the chart with `helm package`")
    return str(version)


def chart_values(pin: ChartPin, charts: ChartsConfig) -> dict[str, Any]:
    """Our values for the release, with the user's charts.<name>.values file merged over them."""
    values = _our_values(pin)
    overlay_path = getattr(charts, pin.name).values
    if overlay_path is not None:
        overlay = _read_values(overlay_path)
        values = merge_values(values, overlay)
    return values


def _our_values(pin: ChartPin) -> dict[str, Any]:
    """The values file the descriptor names, else the package's charts/<name>/values.yaml."""
    if pin.values is not None:
        text = Path(pin.values).read_text(encoding="utf-8")
    else:
        text = (
            resources.files("kfbootstrap").joinpath(f"data/charts/{pin.name}/values.yaml").read_text(encoding="utf-8")
        )
    return yaml.safe_load(text) or {}


def _read_values(path: Path) -> dict[str, Any]:
    from kfbootstrap import safeyaml

    try:
        data = safeyaml.load(path.read_text(encoding="utf-8"))[0] or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, safeyaml.YamlRefused) as exc:
        raise ConfigError(f"cannot read values file {path}: {exc}", hint="check the file is valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"values file {path} must be a mapping, not {type(data).__name__}",
            hint="write it like a chart's values.yaml",
        )
    return data


def merge_values(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's rule for -f files: maps merge key by key, anything else (lists too) is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
