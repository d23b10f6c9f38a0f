"""Build the Kubernetes adapter from a kube context, a kubeconfig and request timeouts.

`connect` is the one factory of Kube: every adapter is built here, with the timeouts its
caller passes (kfbootstrap/context.py turns a Config into them). Nothing here is set
process-wide: the client's global default configuration is never touched either, so two
clusters can be used in one process, as tests do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import Timeouts


def load_configuration(context: str | None, kubeconfig: str | None = None) -> "Configuration":
    """The client configuration of `context` (None: the current context) from `kubeconfig`.

    `kubeconfig` None means $KUBECONFIG (which may list several files) or ~/.kube/config.
    """
    import yaml
    from kubernetes import client
    from kubernetes import config as kube_config

    configuration = client.Configuration()
    # Read $KUBECONFIG now: the library's default is frozen when kubernetes is first imported.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        kube_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
        )
    except (kube_config.ConfigException, OSError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
        # YAMLError: a kubeconfig that is not YAML; AttributeError: YAML that is not a mapping.
        where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
        detail = " ".join(str(exc).split())  # one line: YAML errors span several
        raise KfbError(
            f"cannot use kube context {context or '(current)'} from {where}: {detail}",
            hint="check `kubectl config get-contexts`; pass --context, or run `kfbootstrap up` first",
        ) from None
    configuration.retries = _retries()
    return configuration


def _retries() -> Any:
    """Retry a refused or reset connection, but never a read that timed out: a server that
    accepts and never answers must cost one read timeout, not four."""
    from urllib3.util.retry import Retry

    return Retry(total=2, connect=2, read=0, status=0, redirect=0, other=0)


def api_client(context: str | None, kubeconfig: str | None = None, pool_size: int = 16) -> "ApiClient":
    """A new ApiClient for `context`, pooling `pool_size` connections (one per concurrent request).

    Only KubeRest sends through it, and KubeRest gives every request its connect and read timeout."""
    from kubernetes.client import ApiClient

    configuration = load_configuration(context, kubeconfig)
    configuration.connection_pool_maxsize = pool_size
    return ApiClient(configuration)


def connect(context: str | None, timeouts: "Timeouts", kubeconfig: str | None = None, pool_size: int = 16) -> "Kube":
    """The adapter for `context` (None: the current one), bounding every request by `timeouts`."""
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import KubeRest

    client = api_client(context, kubeconfig, pool_size=pool_size)
    return Kube(KubeRest(client, context=context, timeouts=timeouts), context)
