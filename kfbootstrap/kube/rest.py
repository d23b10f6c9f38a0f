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
from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger("kfbootstrap.kube")

APPLY_PATCH = "application/apply-patch+yaml"
METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
USER_AGENT = f"kfbootstrap/{__version__}"


class KubeRequestError(KfbError):
    """A request a caller could not do without (object applies classify their refusals instead)."""

    def __init__(self, method: str, path: str, response: Response):
        from kfbootstrap.kube.retry import status_message

        self.response = response
        message, _ = status_message(response.body)
        super().__init__(f"{method} {path}: HTTP {response.status or 'no answer'}: {message[:300]}",
                         hint="check that the cluster answers: `kubectl get --raw /readyz`")


@dataclass(frozen=True)
class Response:
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    def json(self) -> Any:
        return json.loads(self.body)


def path_segment(value: str) -> str:
    return quote(value, safe="")


class KubeRest:
    """A thread-safe, counting, exception-free view of one ApiClient."""

    def __init__(self, api_client: "ApiClient", timeout: float = 60.0, pool_size: int = 16):
        self.api_client = api_client
        _ensure_pool_size(api_client, pool_size)
        self.timeout = timeout
        self._lock = threading.Lock()
        self.requests = 0

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _prepare(self, method: str, path: str, query: Mapping[str, Any] | None,
                 headers: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        queries: list[tuple[str, str]] = []
        # Adds the bearer token (refreshing exec-plugin credentials when needed).
        self.api_client.update_params_for_auth(all_headers, queries, ["BearerToken"], path, method, None)
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items()
                  if v is not None] + queries
        url = self.api_client.configuration.host + path + (f"?{urlencode(params)}" if params else "")
        return url, all_headers

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                body: bytes | None = None, content_type: str | None = None,
                accept: str | None = None, timeout: float | None = None) -> Response:
        """One request; never raises for HTTP or transport errors (see Response.status)."""
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        url, headers = self._prepare(method, path, query, headers)
        self._count()
        try:
            raw = self.api_client.rest_client.request(method, url, headers=headers, body=body,
                                                      _request_timeout=timeout or self.timeout)
        except Exception as exc:  # urllib3 errors (refused, reset, timeout) and ApiException(status=0) for TLS
            log.debug("%s %s: no answer: %s", method, path, exc)
            return Response(0, str(exc).encode())
        try:
            data = raw.response.data
        except Exception as exc:
            return Response(0, str(exc).encode())
        finally:
            raw.response.release_conn()
        return Response(raw.status, data or b"")

    def get_json(self, path: str, *, query: Mapping[str, Any] | None = None, accept: str | None = None) -> Any:
        """GET and parse, or None on 404; raises KubeRequestError on any other failure."""
        response = self.request("GET", path, query=query, accept=accept)
        if response.status == 404:
            return None
        if not response.ok:
            raise KubeRequestError("GET", path, response)
        return response.json()

    def stream_lines(self, path: str, *, query: Mapping[str, Any], timeout: float) -> Iterator[bytes]:
        """A watch: yields one JSON event per line until the server ends it or `timeout` passes.

        Raises KubeRequestError when the watch cannot start.
        """
        url, headers = self._prepare("GET", path, query, None)
        self._count()
        try:
            raw = self.api_client.rest_client.request("GET", url, headers=headers,
                                                      _request_timeout=(10, timeout))
        except Exception as exc:
            raise KubeRequestError("GET", path, Response(0, str(exc).encode())) from None
        response = raw.response
        try:
            if not 200 <= raw.status <= 299:
                raise KubeRequestError("GET", path, Response(raw.status, response.data or b""))
            buffered = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                yield from (line for line in lines if line.strip())
            if buffered.strip():
                yield buffered
        except KubeRequestError:
            raise
        except Exception as exc:  # the server or the read timeout ended the stream: callers re-watch
            log.debug("watch %s ended: %s", path, exc)
        finally:
            # A watch left early holds unread data: close it rather than pool it.
            response.close()
            response.release_conn()




def _ensure_pool_size(api_client: "ApiClient", size: int) -> None:
    """Keep one pooled connection per concurrent request (urllib3 discards the surplus otherwise)."""
    from kubernetes.client import rest

    configuration = api_client.configuration
    if (configuration.connection_pool_maxsize or 0) < size:
        configuration.connection_pool_maxsize = size
        api_client.rest_client.close()
        api_client.rest_client = rest.RESTClientObject(configuration)
