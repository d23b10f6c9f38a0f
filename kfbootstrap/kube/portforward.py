"""Port-forwards that survive pod restarts: a local listener, and one stream per connection.

Why not supervise `kubectl port-forward`: it binds one pod when it starts, and when
that pod goes away (or the stream idles out) it dies or hangs, losing the local port
to every client until someone restarts it (kubernetes/kubectl#686, #1169). Restarting
it is racy and needs kubectl on the machine.

What we do instead: we own the local TCP listener, and for each accepted connection
we pick a currently ready pod behind the Service (kube/endpoints.py) and open a
port-forward stream to it with the kubernetes client's native WebSocket
port-forward (`kubernetes.stream.portforward`, protocol v4.channel.k8s.io). A dead
pod therefore only ever affects the connections that were open on it; the next
connection lands on the replacement. When no pod is ready, a new connection waits
(up to `connect_timeout`) for one instead of failing.

If the stream to the chosen pod fails before the pod sent a single byte because the
pod could not be reached (the kubelet's "dial ... connection refused"), the bytes the
client already sent are replayed on a stream to another pod: the first pod never saw
them, so nothing is sent twice.

Limitation of the v4 WebSocket protocol: a half-close cannot be signalled, so a
client that shuts down its sending side while waiting for the answer loses the
answer. HTTP clients do not do that.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.endpoints import Backend, ServiceBackends

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.forward")

CHUNK = 65536
REPLAY_LIMIT = 256 * 1024  # client bytes kept until the pod answers, to retry elsewhere
# Error-channel texts meaning the stream never reached the pod's port (kubelet, CRI, kwok).
_UNREACHED = ("dial", "connection refused", "no such", "unable to do port forwarding", "not found")


class PortInUse(KfbError):
    """The local address:port is already bound; `who` names the holder when we can tell."""

    def __init__(self, address: str, port: int, who: str | None, hint: str | None = None):
        self.address = address
        self.port = port
        self.who = who
        super().__init__(
            f"port {port} on {address} is already in use{f' by {who}' if who else ''}",
            hint=hint or "stop that process, or pick another local port with --port or forwards.ports.*",
        )


def bind_listener(address: str, port: int) -> socket.socket:
    """A listening TCP socket, or PortInUse naming the process that holds the port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
        # POSIX: lets us rebind right after a restart (TIME_WAIT); never allows two listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EACCES:  # a privileged port: free, but not ours to take
            raise KfbError(
                f"cannot bind {address}:{port}: permission denied (ports below 1024 need root)",
                hint="use a port above 1023 (--port, or forwards.ports.*)",
            ) from None
        if exc.errno == errno.EADDRINUSE:
            from kfbootstrap.host import port_holder

            raise PortInUse(address, port, port_holder(port)) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise KfbError(
                f"cannot bind {address}: no such address on this machine",
                hint="use 127.0.0.1, or an address of one of this machine's interfaces",
            ) from None
        raise
    return sock


@dataclass
class RouteStats:
    """What a forward has done, for `expose --list` and the log."""

    connections: int = 0
    active: int = 0
    failed: int = 0
    last_pod: str | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def note(self, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(self, key, value)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for key, value in deltas.items():
                setattr(self, key, getattr(self, key) + value)


@dataclass
class Route:
    """One local listener and the Service it forwards to."""

    name: str
    address: str
    port: int
    backends: ServiceBackends
    stats: RouteStats = field(default_factory=RouteStats)
    listener: socket.socket | None = None


class Forwarder:
    """Serves any number of routes from one process: accept, pick a pod, relay."""

    def __init__(
        self,
        kube: "Kube",
        routes: list[Route],
        connect_timeout: float = 30.0,
        open_stream: Callable[[str, Backend], Any] | None = None,
    ):
        self.kube = kube
        self.routes = routes
        self.connect_timeout = connect_timeout
        self._open_stream = open_stream or self._websocket_stream

    def bind(self) -> None:
        """Bind every listener first, so a taken port fails before anything is served."""
        try:
            for route in self.routes:
                route.listener = bind_listener(route.address, route.port)
        except BaseException:
            self.close()
            raise

    def serve(self, stop: threading.Event) -> None:
        """Accept until `stop` is set; each connection gets its own relay thread."""
        with selectors.DefaultSelector() as selector:
            for route in self.routes:
                assert route.listener is not None, "bind() first"
                selector.register(route.listener, selectors.EVENT_READ, route)
            while not stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    try:
                        conn, peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except OSError:
                        continue
                    threading.Thread(
                        target=self._relay, args=(key.data, conn), name=f"relay-{key.data.name}-{peer[1]}", daemon=True
                    ).start()

    def close(self) -> None:
        for route in self.routes:
            if route.listener is not None:
                route.listener.close()
                route.listener = None

    # ------------------------------------------------------------------ one connection

    def _relay(self, route: Route, client: socket.socket) -> None:
        route.stats.add(connections=1, active=1)
        try:
            self._relay_until_done(route, client)
        except Exception as exc:  # a relay thread must never die silently
            log.warning("%s: connection ended with %s: %s", route.name, type(exc).__name__, exc)
            route.stats.note(last_error=f"{type(exc).__name__}: {exc}", last_error_at=time.time())
        finally:
            route.stats.add(active=-1)
            _close_quietly(client)

    def _relay_until_done(self, route: Route, client: socket.socket) -> None:
        deadline = time.monotonic() + self.connect_timeout
        replay = bytearray()
        delay = 0.05
        while True:
            opened = self._open_to_ready_pod(route, deadline)
            if opened is None:
                route.stats.add(failed=1)
                message = (
                    f"no ready pod behind svc/{route.backends.service_name or route.backends.services[0]} "
                    f"within {self.connect_timeout:.0f}s"
                )
                log.warning("%s: %s", route.name, message)
                route.stats.note(last_error=message, last_error_at=time.time())
                return
            backend, stream = opened
            outcome = _pump(client, stream, backend.port, replay)
            if outcome != _RETRY or time.monotonic() > deadline:
                return
            log.info(
                "%s: pod %s was not reachable (%s); replaying on another pod",
                route.name,
                backend.pod,
                stream.error(backend.port),
            )
            route.backends.mark_failed(backend)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _open_to_ready_pod(self, route: Route, deadline: float) -> tuple[Backend, Any] | None:
        """A port-forward stream to a ready pod, waiting for one until `deadline`."""
        delay = 0.05
        waiting = False
        while True:
            backend = None
            try:
                if waiting:  # nothing usable last time: ask the API again (rate-limited)
                    route.backends.refresh(force=True)
                backend = route.backends.pick()
                if backend is not None:
                    stream = self._open_stream(route.backends.namespace, backend)
                    route.stats.note(last_pod=backend.pod)
                    return backend, stream
            except KfbError as exc:  # e.g. the Service itself is gone
                route.stats.note(last_error=exc.message, last_error_at=time.time())
            except Exception as exc:  # pod gone (404), API unreachable, handshake refused
                reason = _short_reason(exc)
                who = backend.pod if backend else "the API"
                log.info("%s: cannot open a stream to %s: %s", route.name, who, reason)
                route.stats.note(last_error=f"{who}: {reason}"[:300], last_error_at=time.time())
                if backend is not None:
                    route.backends.mark_failed(backend)
            if time.monotonic() + delay > deadline:
                return None
            waiting = True
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _websocket_stream(self, namespace: str, backend: Backend) -> Any:
        return self.kube.port_forward(namespace, backend.pod, backend.port)


_DONE = "done"
_RETRY = "retry"


def _pump(client: socket.socket, stream: Any, port: int, replay: bytearray) -> str:
    """Relay bytes both ways until either side closes.

    Returns _RETRY when the pod was never reached, so the client's bytes so far (kept
    in `replay`, which this function extends) can be sent to another pod.
    """
    remote = stream.socket(port)
    replayable = True  # until the pod answers or the client sent more than we keep

    def remote_closed() -> str:
        # A refused dial closes the stream at once, often before our first write: so this
        # is reached both on EOF and on a failed write to the stream.
        error = stream.error(port)
        if replayable and error and _unreached(error):
            return _RETRY
        if error:
            log.info("pod stream closed with: %s", error.strip()[:300])
        return _DONE

    try:
        if replay and not _send(remote, bytes(replay)):
            return remote_closed()
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, "client")
            selector.register(remote, selectors.EVENT_READ, "remote")
            while True:
                for key, _ in selector.select():
                    if key.data == "client":
                        data = _recv(client)
                        if not data:
                            return _DONE
                        if replayable and len(replay) + len(data) <= REPLAY_LIMIT:
                            replay += data
                        else:
                            replayable = False
                        if not _send(remote, data):
                            return remote_closed()
                        continue
                    data = _recv(remote)
                    if not data:
                        return remote_closed()
                    replayable = False
                    client.sendall(data)
    except OSError as exc:  # the client went away
        log.debug("relay ended: %s", exc)
        return _DONE
    finally:
        stream.close()


def _send(sock: Any, data: bytes) -> bool:
    """sendall, False when the other end is already closed."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        return False


def _recv(sock: Any) -> bytes:
    try:
        return sock.recv(CHUNK)
    except (ConnectionResetError, ConnectionAbortedError):
        return b""


def _short_reason(exc: Exception) -> str:
    """websocket-client's handshake error is 'Handshake status 404 Not Found -+-+- {headers} -+-+- {body}':
    keep the status and the API's message."""
    text = str(getattr(exc, "reason", None) or exc).strip()
    parts = text.split(" -+-+- ")
    if len(parts) == 3:
        try:
            import json

            return f"{parts[0]}: {json.loads(parts[2]).get('message', '')}".strip(": ")
        except ValueError:
            return parts[0]
    return text[:300]


def _unreached(error: str) -> bool:
    text = error.lower()
    return any(marker in text for marker in _UNREACHED)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
