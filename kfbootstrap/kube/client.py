"""Build kubernetes client objects from a kubeconfig path and a context.

Tiny on purpose: every module under kfbootstrap/kube/ shares it, and it hides the
client's global default configuration (we never touch it, so two clusters can be
used in one process, as tests do).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

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
        kube_config.load_kube_config(config_file=kubeconfig, context=context,
                                     client_configuration=configuration, persist_config=False)
    except (kube_config.ConfigException, OSError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
        # YAMLError: a kubeconfig that is not YAML; AttributeError: YAML that is not a mapping.
        where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
        detail = " ".join(str(exc).split())  # one line: YAML errors span several
        raise KfbError(f"cannot use kube context {context or '(current)'} from {where}: {detail}",
                       hint="check `kubectl config get-contexts`; pass --context, or run `kfbootstrap up` first") from None
    return configuration


def api_client(context: str | None, kubeconfig: str | None = None) -> "ApiClient":
    """A new ApiClient for `context`; cheap enough to make one per thread that needs it."""
    from kubernetes.client import ApiClient

    return ApiClient(load_configuration(context, kubeconfig))


@contextmanager
def api_errors(context: str | None) -> Iterator[None]:
    """Turn 'cannot reach the API server' and unexpected API refusals into one clear KfbError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except HTTPError as exc:
        raise KfbError(f"cannot reach the API server of context {context or '(current)'}: {exc}",
                       hint="is the cluster running? `kubectl cluster-info` checks it; `kfbootstrap up` creates it") from None
    except ApiException as exc:
        raise KfbError(f"the API server refused: {exc.status} {exc.reason}",
                       hint=f"check your access with `kubectl --context {context or '(current)'} auth can-i --list`") from None
