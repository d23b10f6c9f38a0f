"""Error explanations: pydantic's report turned into one line naming the key, where it was set, and a hint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from kfbootstrap.config.schema import Config
from kfbootstrap.errors import ConfigError
from kfbootstrap.release_parts import CATALOGS
from kfbootstrap.releases import DEFAULT_RELEASE


def config_error(exc: ValidationError, sources: dict[str, str]) -> ConfigError:
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
