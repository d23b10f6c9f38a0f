"""Typed, validated configuration: defaults < profile < kfbootstrap.yaml < KFBOOTSTRAP_* env < flags.

One module per concern: sections (the hand-written keys), generated (the keys made from the
component registry), schema (the whole file), profiles (profile policy), loader (merging the
layers), explain (error messages), show (`config schema` / `config show`). Callers import from
here; only what they use is re-exported.
"""

from kfbootstrap.config.generated import ChartsConfig
from kfbootstrap.config.loader import LoadedConfig, load_config, profile_config
from kfbootstrap.config.profiles import CLUSTER_ONLY_NEEDS, PROFILE_NEEDS, PROFILE_PRESETS
from kfbootstrap.config.schema import Config
from kfbootstrap.config.sections import DEFAULT_NODE_IMAGE, ChartConfig
from kfbootstrap.config.show import config_as_yaml, config_schema

__all__ = [
    "CLUSTER_ONLY_NEEDS",
    "DEFAULT_NODE_IMAGE",
    "PROFILE_NEEDS",
    "PROFILE_PRESETS",
    "ChartConfig",
    "ChartsConfig",
    "Config",
    "LoadedConfig",
    "config_as_yaml",
    "config_schema",
    "load_config",
    "profile_config",
]
