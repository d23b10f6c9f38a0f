"""Options every command shares, and the bridge from flags to the validated config.

Only typer is imported at module level: `kfbootstrap --help` must stay as fast as
a bare typer app, so config (pydantic), kubernetes and sh load inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typing_extensions import Annotated

if TYPE_CHECKING:
    from kfbootstrap.config import LoadedConfig
    from kfbootstrap.context import RunContext

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Config file (default: ./kfbootstrap.yaml if present).", show_default=False),
]
ProfileOption = Annotated[
    Optional[str],
    typer.Option("--profile", help="full, minimal, ci or pipelines (see README, 'Profiles').", show_default=False),
]
NameOption = Annotated[Optional[str], typer.Option("--name", help="Kind cluster name.", show_default=False)]
ContextOption = Annotated[
    Optional[str],
    typer.Option(
        "--context",
        help="Kube context of an existing cluster to use instead of creating one (default: kind-<cluster.name>).",
        show_default=False,
    ),
]
# For the commands that only talk to a cluster that exists (creds, expose, status).
ClusterContextOption = Annotated[
    Optional[str],
    typer.Option(
        "--context",
        help="Kube context of the cluster (default: kind-<cluster.name>, or cluster.context).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
# What `up` installs and `render` writes: the same profile, release, source, apps and sizing flags.
KubeflowVersionOption = Annotated[
    Optional[str],
    typer.Option(
        "--kubeflow-version", help="Kubeflow community-distribution release, e.g. 26.03.1.", show_default=False
    ),
]
ManifestsOption = Annotated[
    Optional[Path],
    typer.Option("--manifests", help="Local manifests checkout or pre-rendered YAML.", show_default=False),
]
AppsOption = Annotated[
    Optional[str],
    typer.Option(
        "--apps",
        help="Kubeflow applications to install, comma-separated, e.g. pipelines,kserve (sets kubeflow.apps; "
        "default: all of the release's example).",
        show_default=False,
    ),
]
SizingOption = Annotated[
    Optional[str],
    typer.Option(
        "--sizing",
        help="Resource requests: upstream (production) or laptop (Istio's demo-profile requests; the "
        "pipelines profile's default). Sets kubeflow.sizing.",
        show_default=False,
    ),
]


def choice_flags(
    profile: str | None, kubeflow_version: str | None, manifests: Path | None, apps: str | None, sizing: str | None
) -> dict[str, Any]:
    """The flags that choose what is installed, as config keys: `up` and `render` pass the same ones,
    so the same flags select the same objects."""
    return {
        "profile": profile,
        "kubeflow__version": kubeflow_version,
        "kubeflow__path": manifests,
        "kubeflow__apps": apps,
        "kubeflow__sizing": sizing,
    }


# Flags whose name is not the last part of the config key they set (for error messages).
FLAG_NAMES = {
    "kubeflow.version": "--kubeflow-version",
    "kubeflow.path": "--manifests",
    "kubeflow.sizing": "--sizing",
    "timeouts.ready": "--timeout",
}


def load(config_file: Path | None, **flags: Any) -> "LoadedConfig":
    """Validate the config from every layer; flags are given as dotted config keys (cluster__name -> cluster.name)."""
    from kfbootstrap.config import load_config

    dotted = {key.replace("__", "."): value for key, value in flags.items()}
    return load_config(config_file, dotted, flag_names=FLAG_NAMES)


def new_runner():
    """The command runner for this process; tests replace this function with a recording fake."""
    from kfbootstrap.context import shell_runner

    return shell_runner()


def new_host():
    """Facts about this machine; tests replace this function with a faked machine."""
    from kfbootstrap.host import HostProbe

    return HostProbe()


def run_context(loaded: "LoadedConfig") -> "RunContext":
    from kfbootstrap.context import RunContext

    return RunContext(config=loaded.config, runner=new_runner(), host=new_host())
