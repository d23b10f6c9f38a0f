"""What `kfbootstrap down` removes: the Kind cluster kfbootstrap created, or only what it applied.

The command line decides which, and says what happened; these functions do it. A cluster
kfbootstrap did not create is never deleted: it is known by the kind config `up` writes in
our state dir before it creates a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError
from kfbootstrap.lifecycle.ownership import cluster_of_context

if TYPE_CHECKING:
    from kfbootstrap.kube.cleanup import DeleteReport
    from kfbootstrap.tools.runner import Runner


def kind_cluster_of(context: str, new_runner: Callable[[], "Runner"]) -> str | None:
    """The Kind cluster behind a context kind names `kind-<cluster>`, if kfbootstrap created it
    (`new_runner` is called only to ask kind about a context that looks like one of ours).

    Kind knowing the cluster is not enough: one that `kind create` made by hand must never be
    deleted (seen on the Kind test ground). `up` writes clusters/<name>/kind-config.yaml in
    our state dir before it creates a cluster; without it the cluster is not ours.
    """
    name = cluster_of_context(context)
    if name is None:
        return None
    try:
        return name if kind_cluster_exists(new_runner(), name) else None
    except KfbError:
        return None  # no kind here: then it is not a Kind cluster of ours either


def kind_cluster_exists(runner: "Runner", name: str) -> bool:
    from kfbootstrap.tools.kind import Kind

    return Kind(runner).exists(name)


def delete_kind_cluster(runner: "Runner", name: str) -> None:
    """Fails with kind's own ERROR line; its whole output is in the log."""
    from kfbootstrap.tools.kind import Kind

    Kind(runner).delete(name)


def delete_applied(config: Config, progress: Callable[[str], None] | None = None) -> "DeleteReport":
    """Everything labelled kfbootstrap.dev/managed-by=kfbootstrap, in a safe order (kube/cleanup.py).

    Through the config's context and timeouts.api, so a silent server is named and bounds every request."""
    from kfbootstrap.context import connect_kube
    from kfbootstrap.kube.cleanup import delete_managed

    return delete_managed(connect_kube(config).rest, progress=progress)
