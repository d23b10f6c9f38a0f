"""Raw JSON over HTTP to the API server, through an ApiClient's auth and connection pool.

The generated client turns every response into model objects; for hundreds of large
objects (CRDs of several hundred KB) that costs seconds and memory for answers we do
not read. Here bodies stay bytes unless the caller parses them, every request is
counted (the benchmark reports it), and transport failures become status 0 instead of
exceptions, so the apply engine can classify them like any other refusal.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import quote, urlencode

from kfbootstrap import __version__
from kfbootstrap.kube.errors import KubeError, error_for, not_json_error

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("kfbootstrap.kube")

APPLY_PATCH = "application/apply-patch+yaml"
METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
USER_AGENT = f"kfbootstrap/{__version__}"
HANDSHAKE_TIMEOUT = 10.0  # seconds a port-forward stream may take to open


@dataclass(frozen=True)
class Response:
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: bytes
    failure: str = ""  # with status 0: "timeout" or "unreachable"

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    def json(self) -> Any:
        return json.loads(self.body)


def path_segment(value: str) -> str:
    return quote(value, safe="")


def resource_of_path(path: str) -> tuple[str, str | None, bool]:
    """What `kubectl auth can-i` calls the thing at an API path: (resource, namespace, is a collection).

    `/apis/apps/v1/namespaces/ns/deployments` is (deployments.apps, ns, True), `/api/v1/nodes/n1/status`
    (nodes/status, None, False); a path that names no resource (`/apis`, `/version`, a group's
    discovery document) is itself, a non-resource URL."""
    from urllib.parse import unquote

    parts = [unquote(part) for part in path.split("?", 1)[0].strip("/").split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return path.split("?", 1)[0], None, False
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] + (f".{group}" if group else "")
    if len(rest) >= 3:
        return f"{plural}/{rest[2]}", namespace, False
    return plural, namespace, len(rest) == 1


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for an answer; every request has both, so a server that
    accepts and never answers costs a bounded time instead of a hang."""

    connect: float = 10.0
    read: float = 60.0


class KubeRequestError(KubeError):
    """A raw-path request that failed; keeps the Response so the apply engine can classify it."""

    def __init__(self, error: KubeError, response: Response):
        super().__init__(
            error.message,
            error.hint or "",
            status=error.status,
            verb=error.verb,
            what=error.what,
            context=error.context,
        )
        self.response = response


class KubeRest:
    """A thread-safe, counting, exception-free view of one ApiClient."""

    def __init__(
        self,
        api_client: "ApiClient",
        timeout: float | None = None,
        context: str | None = None,
        timeouts: Timeouts | None = None,
    ):
        """`api_client` should pool a connection per concurrent request (kube.client.api_client does)."""
        self.api_client = api_client
        self.timeouts = timeouts or Timeouts(read=timeout or Timeouts.read)
        self.context = context
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _prepare(
        self, method: str, path: str, query: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> tuple[str, dict[str, str]]:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        queries: list[tuple[str, str]] = []
        # Adds the bearer token (refreshing exec-plugin credentials when needed).
        self.api_client.update_params_for_auth(all_headers, queries, ["BearerToken"], path, method, None)
        params = [
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items() if v is not None
        ] + queries
        url = self.api_client.configuration.host + path + (f"?{urlencode(params)}" if params else "")
        return url, all_headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | Mapping[str, Any] | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One request; never raises for HTTP or transport errors (see Response.status)."""
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        url, headers = self._prepare(method, path, query, headers)
        self._count()
        try:
            raw = self.api_client.rest_client.request(
                method,
                url,
                headers=headers,
                body=body,
                _request_timeout=(self.timeouts.connect, timeout or self.timeouts.read),
            )
        except _transport_errors() as exc:  # refused, reset, timed out; ApiException(status=0) for TLS
            log.debug("%s %s: no answer: %s", method, path, exc)
            return no_answer(exc)
        try:
            data = raw.response.data
        except _transport_errors() as exc:  # the answer broke off (or the read timed out) mid-body
            return no_answer(exc)
        finally:
            raw.response.release_conn()
        return Response(raw.status, data or b"")

    def get_json(self, path: str, *, query: Mapping[str, Any] | None = None, accept: str | None = None) -> Any:
        """GET and parse, or None on 404; raises KubeRequestError on any other failure."""
        response = self.request("GET", path, query=query, accept=accept)
        if response.status == 404:
            return None
        if not response.ok:
            raise self.failed("GET", path, response)
        try:
            return self.object_of(response, "get", path)
        except KubeError as exc:
            raise KubeRequestError(exc, response) from None

    def object_of(self, response: Response, verb: str, what: str, context: str | None = None) -> dict[str, Any]:
        """The JSON object a successful answer carries ({} for an empty body); anything else (a web page
        where the API server should be, a list, a cut-off body) is our error naming the request."""
        if not response.body:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise self.not_json(response, verb, what, context) from None
        if not isinstance(data, dict):
            raise self.not_json(response, verb, what, context, parsed=True)
        return data

    def not_json(
        self, response: Response, verb: str, what: str, context: str | None = None, parsed: bool = False
    ) -> KubeError:
        return not_json_error(
            verb=verb,
            what=what,
            context=self.context if context is None else context,
            server=self.server,
            status=response.status,
            body=response.body,
            parsed=parsed,
        )

    def failed(self, method: str, path: str, response: Response) -> KubeRequestError:
        """The error for a raw request, naming the method, the path and the context; the RBAC hint
        names the resource (or the non-resource URL) the path is, as `kubectl auth can-i` takes it."""
        verb = {"GET": "get", "PATCH": "patch", "POST": "create", "DELETE": "delete", "PUT": "update"}.get(
            method, method
        )
        resource, namespace, collection = resource_of_path(path)
        if verb == "get" and collection:
            verb = "list"
        return KubeRequestError(self.error(response, verb, path, resource, namespace), response)

    def error(
        self,
        response: Response,
        verb: str,
        what: str,
        resource: str = "",
        namespace: str | None = None,
        context: str | None = None,
    ) -> KubeError:
        """Our error for a refused or unanswered request: the API's own message, the verb, the object,
        the context (`context` None: this client's) and the server."""
        from kfbootstrap.kube.retry import status_message

        message = status_message(response.body)[0] if response.status else response.body.decode("utf-8", "replace")
        return error_for(
            verb=verb,
            what=what,
            context=self.context if context is None else context,
            server=self.server,
            status=response.status,
            message=message[:300],
            failure=response.failure,
            resource=resource,
            namespace=namespace,
        )

    def stream_lines(
        self, path: str, *, query: Mapping[str, Any], timeout: float, cancel: "Cancel | None" = None
    ) -> Iterator[bytes]:
        """A watch: yields one JSON event per line until the server ends it or `timeout` passes.

        Yields nothing more once `cancel` is set (which also cuts the open response).
        Returns a non-2xx or transport failure as a Response to the caller by raising
        StreamRefused.
        """
        url, headers = self._prepare("GET", path, query, None)
        self._count()
        try:
            raw = self.api_client.rest_client.request(
                "GET", url, headers=headers, _request_timeout=(self.timeouts.connect, timeout)
            )
        except _transport_errors() as exc:
            raise StreamRefused(no_answer(exc)) from None
        response = raw.response
        if cancel is not None:
            cancel.track(response)
        try:
            if not 200 <= raw.status <= 299:
                raise StreamRefused(Response(raw.status, response.data or b""))
            buffered = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                yield from (line for line in lines if line.strip())
                if cancel is not None and cancel.is_set():
                    return
            if buffered.strip():
                yield buffered
        except StreamRefused:
            raise
        except (
            _transport_errors()
        ) as exc:  # the server, the read timeout or a cancel ended the stream: callers re-watch
            log.debug("watch %s ended: %s", path, exc)
        finally:
            if cancel is not None:
                cancel.untrack(response)
            # A watch left early holds unread data: close it rather than pool it.
            response.close()
            response.release_conn()

    def open_port_forward(self, namespace: str, pod: str, port: int) -> Any:
        """Open the WebSocket port-forward to one pod port (what Kube.port_forward returns).

        A fresh ApiClient per stream: the client's `portforward` swaps `call_api` on the
        ApiClient instance while it runs, which is not thread-safe to share."""
        import websocket
        from kubernetes import client
        from kubernetes.stream import portforward

        # The client offers no per-connection handshake timeout; this bounds the handshake, and the
        # stream is made blocking again below (every forward of this process opens streams the same way).
        websocket.setdefaulttimeout(HANDSHAKE_TIMEOUT)
        api = client.CoreV1Api(client.ApiClient(self.api_client.configuration))
        stream = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        stream.websocket.settimeout(None)  # an idle stream is fine; the proxy thread select()s
        return stream

    def open_exec(self, namespace: str, pod: str, command: list[str], container: str | None, with_stdin: bool) -> Any:
        """Open an exec WebSocket to one pod (kubernetes.stream's WSClient, binary); only kube/pod_exec.py reads it.
        A fresh ApiClient per stream, for the reason open_port_forward gives."""
        import websocket
        from kubernetes import client
        from kubernetes.stream import stream

        websocket.setdefaulttimeout(HANDSHAKE_TIMEOUT)
        api = client.CoreV1Api(client.ApiClient(self.api_client.configuration))
        options: dict[str, Any] = {"container": container} if container else {}
        ws = stream(
            api.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=command,
            stdin=with_stdin,
            stdout=True,
            stderr=True,
            tty=False,
            binary=True,
            _preload_content=False,
            **options,
        )
        ws.sock.settimeout(None)
        return ws


class StreamRefused(Exception):
    """A watch that could not start; carries the Response for the adapter to name."""

    def __init__(self, response: Response):
        super().__init__(response.body[:200])
        self.response = response


class Cancel(threading.Event):
    """A stop signal that also cuts the open watch responses, so threads reading them return at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._open: set[Any] = set()

    def track(self, response: Any) -> None:
        with self._lock:
            self._open.add(response)
        if self.is_set():
            _cut(response)

    def untrack(self, response: Any) -> None:
        with self._lock:
            self._open.discard(response)

    def set(self) -> None:
        super().set()
        with self._lock:
            for response in list(self._open):
                _cut(response)


def _cut(response: Any) -> None:
    """Shut the socket under a streaming response down, so the thread reading it returns now.

    shutdown(2) acts on the connection, not the descriptor, so doing it on a duplicate
    of the response's descriptor ends the read in the other thread.
    """
    import socket

    try:
        duplicate = socket.fromfd(response.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except (AttributeError, OSError, ValueError):
        return  # no connection yet, or already closed
    with duplicate:
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What "no answer" looks like; anything else raised by the client is our bug, not the network's."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return HTTPError, OSError, ApiException


def no_answer(exc: BaseException) -> Response:
    """Status 0 with what happened: "timeout" when the server did not answer in time."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    # urllib3 makes a refused connection a kind of connect timeout; it is not one.
    timed_out = not isinstance(reason, NewConnectionError) and (
        isinstance(reason, (Urllib3Timeout, TimeoutError)) or "timed out" in str(reason).lower()
    )
    return Response(0, _short(reason).encode(), "timeout" if timed_out else "unreachable")


def _short(exc: BaseException) -> str:
    """urllib3 puts a repr of the pool or connection first; what happened comes after it."""
    text = str(exc)
    if "): " not in text:
        return text
    said = text.rsplit("): ", 1)[-1].strip(" '\"")
    while said.endswith(")") and said.count(")") > said.count("("):  # the closing of the repr cut off above
        said = said[:-1].rstrip(" '\"")
    return said
