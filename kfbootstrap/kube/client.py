"""Build kubernetes client objects from a kubeconfig path and a context.

Tiny on purpose: every module under kfbootstrap/kube/ shares it, and it hides the
client's global default configuration (we never touch it, so two clusters can be
used in one process, as tests do).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration


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
    """A new ApiClient for `context`, pooling `pool_size` connections (one per concurrent request)."""
    from kubernetes.client import ApiClient

    configuration = load_configuration(context, kubeconfig)
    configuration.connection_pool_maxsize = pool_size
    return ApiClient(configuration)


@contextmanager
def api_errors(context: str | None) -> Iterator[None]:
    """Turn 'cannot reach the API server' and unexpected API refusals into one clear KfbError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except HTTPError as exc:
        raise KfbError(
            f"cannot reach the API server of context {context or '(current)'}: {exc}",
            hint="is the cluster running? `kubectl cluster-info` checks it; `kfbootstrap up` creates it",
        ) from None
    except ApiException as exc:
        raise KfbError(
            f"the API server refused: {exc.status} {exc.reason}",
            hint=f"check your access with `kubectl --context {context or '(current)'} auth can-i --list`",
        ) from None


def typed_core(context: str | None, kubeconfig: str | None = None) -> Any:
    """CoreV1Api for the code that still reads typed models (the forwarder's endpoints)."""
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client(context, kubeconfig))
