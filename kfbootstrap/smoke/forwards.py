"""Port-forwards that `smoke` opens for itself and closes when it is done.

Reuses `expose`'s machinery (kube/portforward.py: a local listener that opens a
stream to a ready pod behind the Service for each connection) on ephemeral
127.0.0.1 ports, so a smoke run never collides with the user's own forwards and
survives a pod that restarts in the middle of it. Forwards open lazily, on the
first check that needs the Service, and all run in one background thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from kfbootstrap.errors import KfbError
from kfbootstrap.smoke.checks import EndpointUnavailable, Service

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import Timeouts

log = logging.getLogger("kfbootstrap.smoke")


class ForwardedEndpoints:
    """Endpoints through port-forwards; use as a context manager."""

    def __init__(
        self,
        context: str | None,
        kubeconfig: str | None = None,
        connect_timeout: float = 20.0,
        api_timeouts: "Timeouts | None" = None,
    ):
        """`api_timeouts` bounds every API request (None: the client's defaults); `smoke` passes timeouts.api."""
        self.context = context
        self.kubeconfig = kubeconfig
        self.api_timeouts = api_timeouts
        self.connect_timeout = connect_timeout
        self._urls: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._running: list[tuple[Any, threading.Event, threading.Thread]] = []
        self._routes: dict[str, Any] = {}
        self._kube: Any = None

    def __enter__(self) -> "ForwardedEndpoints":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def base_url(self, service: Service) -> str:
        if service.key in self._failed:
            raise EndpointUnavailable(self._failed[service.key])
        if service.key not in self._urls:
            try:
                self._urls[service.key] = self._open(service)
            except KfbError as exc:  # Service missing, no such port, cluster unreachable
                self._failed[service.key] = f"cannot forward to {service.namespace}/{service.name}: {exc.message}"
                raise EndpointUnavailable(self._failed[service.key]) from None
        return self._urls[service.key]

    def _open(self, service: Service) -> str:
        from kfbootstrap.kube.endpoints import ServiceBackends, find_service, service_port
        from kfbootstrap.kube.portforward import Forwarder, Route

        kube = self.kube()
        found = find_service(kube, service.namespace, service.names)  # fail now, naming the Service
        found_name = found["metadata"]["name"]
        service_port(found, service.port)
        backends = ServiceBackends(kube, service.namespace, service.names, service.port)
        if not backends.refresh(force=True):  # fail at once instead of waiting connect_timeout per request
            raise KfbError(f"no ready pod behind svc/{found_name}")
        route = Route(f"smoke-{service.key}", "127.0.0.1", 0, backends)
        forwarder = Forwarder(kube, [route], connect_timeout=self.connect_timeout)
        forwarder.bind()
        assert route.listener is not None, "bind() opens every route's listener or raises"
        port = route.listener.getsockname()[1]
        stop = threading.Event()
        thread = threading.Thread(
            target=forwarder.serve, args=(stop,), name=f"smoke-forward-{service.key}", daemon=True
        )
        thread.start()
        self._running.append((forwarder, stop, thread))
        self._routes[service.key] = route
        log.info("smoke: forwarding 127.0.0.1:%s -> %s/%s:%s", port, service.namespace, found_name, service.port)
        return f"http://127.0.0.1:{port}"

    def kube(self) -> "Kube":
        """The adapter for the smoke run's cluster (also what the checks read credentials with)."""
        if self._kube is None:
            from kfbootstrap.kube.client import connect
            from kfbootstrap.kube.rest import Timeouts

            self._kube = connect(self.context, self.api_timeouts or Timeouts(), self.kubeconfig)
        return self._kube

    def api_problem(self) -> str | None:
        """Why the API server cannot be used, from one request; None when it answers (even with a refusal).

        Asked once before the checks: a server that accepts and never answers costs one timeout, not one per check.
        """
        from kfbootstrap.kube.errors import KubeError, TimedOut, Unreachable

        try:
            self.kube().raw("/version")
        except (TimedOut, Unreachable) as exc:
            return exc.message
        except KubeError:  # the server answered (e.g. 403): the checks say what they can
            return None
        except KfbError as exc:  # no such context, a kubeconfig we cannot use
            return exc.message
        return None

    def explain(self, service: Service) -> str | None:
        """The forward's last error for this Service (e.g. its pod went away mid-run), if any."""
        route = self._routes.get(service.key)
        return route.stats.snapshot().get("last_error") if route is not None else None

    def close(self) -> None:
        for _forwarder, stop, _thread in self._running:
            stop.set()
        for forwarder, _stop, thread in self._running:
            thread.join(timeout=5)
            forwarder.close()
        self._running.clear()
