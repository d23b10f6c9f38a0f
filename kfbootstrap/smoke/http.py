"""The HTTP session the smoke checks use: `requests`, plus a record of the redirect hops.

A check says exactly where a login flow stopped, e.g.
"302 /oauth2/start -> 302 /dex/auth -> 200 /dex/auth/local/login", so every answer
carries the redirects that led to it (requests keeps them in `history`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Mapping

import requests
from requests.auth import AuthBase

MAX_REDIRECTS = 15
MAX_BODY = 4 * 1024 * 1024  # no smoke endpoint answers more; keeps a runaway response cheap


class HttpError(Exception):
    """The request could not be made or answered (connection refused, timeout, too many redirects)."""


@dataclass
class Response:
    status: int
    url: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    hops: list[str] = field(default_factory=list)  # "302 /path" for each redirect followed

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    def trail(self) -> str:
        """The redirects that led here, then the final answer, for failure messages."""
        return " -> ".join([*self.hops, f"{self.status} {_path_and_query(self.url)}"])


class Session:
    """Cookies persist across requests, as a browser's would during a login."""

    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout
        self._session = requests.Session()
        self._session.max_redirects = MAX_REDIRECTS
        # The checks talk to 127.0.0.1 forwards: no proxy from the environment, no .netrc credentials.
        self._session.trust_env = False

    def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: AuthBase | None = None,
        follow: bool = True,
    ) -> Response:
        """One request; with `follow`, redirects are followed (303, and 301/302 after POST, become GET)."""
        try:
            answer = self._session.request(
                method,
                url,
                data=data,
                headers=dict(headers or {}),
                auth=auth,
                allow_redirects=follow,
                timeout=self.timeout,
                stream=True,  # read at most MAX_BODY of the final answer
            )
            with answer:
                body = _capped_body(answer)
        except requests.TooManyRedirects as exc:
            raise HttpError(f"more than {MAX_REDIRECTS} redirects: {' -> '.join(_hops(exc.response)[-4:])}") from None
        except requests.RequestException as exc:
            raise HttpError(f"{method} {_path_and_query(url)}: {_innermost(exc)}") from None
        hops = _hops(answer)[:-1]
        return Response(answer.status_code, answer.url, answer.headers, body, hops)

    def get(self, url: str, **kwargs) -> Response:
        return self.request("GET", url, **kwargs)

    def post_form(self, url: str, fields: Mapping[str, str], **kwargs) -> Response:
        """POST an HTML form (application/x-www-form-urlencoded)."""
        return self.request("POST", url, data=fields, **kwargs)

    def cookie_names(self) -> list[str]:
        return sorted(cookie.name for cookie in self._session.cookies)


def _capped_body(answer: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_content(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    return b"".join(chunks)[:MAX_BODY]


def _hops(answer: requests.Response | None) -> list[str]:
    """Every answer on the way, the last one included: "302 /oauth2/start", …"""
    if answer is None:
        return []
    return [f"{hop.status_code} {_path_and_query(hop.url)}" for hop in [*answer.history, answer]]


def _innermost(exc: BaseException) -> str:
    """requests wraps the socket's error in two or three layers; the innermost says what happened.

    E.g. "[Errno 111] Connection refused" instead of "HTTPConnectionPool(host=…): Max retries exceeded …".
    """
    seen = {id(exc)}
    while True:
        reason = getattr(exc, "reason", None)
        first = exc.args[0] if exc.args else None
        inner = next(
            (e for e in (exc.__cause__, reason, first, exc.__context__) if isinstance(e, BaseException)),
            None,
        )
        if inner is None or id(inner) in seen:
            return str(exc)
        seen.add(id(inner))
        exc = inner


def _path_and_query(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{_short(parts.query)}" if parts.query else "")


def _short(query: str, limit: int = 60) -> str:
    """Queries carry state/code tokens: shorten them so messages stay readable."""
    return query if len(query) <= limit else query[:limit] + "…"
