"""What `config schema` and `config show` print."""

from __future__ import annotations

from typing import Any

import yaml

from kfbootstrap.config.loader import LoadedConfig
from kfbootstrap.config.schema import Config


def config_schema() -> dict[str, Any]:
    """JSON schema of kfbootstrap.yaml, for editors."""
    schema = Config.model_json_schema()
    schema["title"] = "kfbootstrap.yaml"
    return schema


def config_as_yaml(loaded: LoadedConfig) -> str:
    data = loaded.config.model_dump(mode="json")
    header = f"# effective configuration (file: {loaded.file or 'none'})\n"
    return header + yaml.safe_dump(data, sort_keys=False)
