"""A small HTTP session on urllib: a cookie jar, manual redirects and a record of the hops.

Redirects are followed by hand (not by urllib) so a check can say exactly where a
login flow stopped, e.g. "302 /oauth2/start -> 302 /dex/auth -> 200 /dex/auth/local/login".
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Mapping

MAX_REDIRECTS = 15
MAX_BODY = 4 * 1024 * 1024  # no smoke endpoint answers more; keeps a runaway response cheap


class HttpError(Exception):
    """The request could not be made or answered (connection refused, timeout, too many redirects)."""


@dataclass
class Response:
    status: int
    url: str
    headers: Mapping[str, str]
    body: bytes
    hops: list[str] = field(default_factory=list)  # "302 /path" for each redirect followed

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    def trail(self) -> str:
        """The redirects that led here, then the final answer, for failure messages."""
        return " -> ".join([*self.hops, f"{self.status} {_path_and_query(self.url)}"])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 (urllib API)
        return None  # hand the 3xx back to us


class Session:
    """Cookies persist across requests, as a browser's would during a login."""

    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        follow: bool = True,
    ) -> Response:
        """One request; with `follow`, 301/302/303/307/308 are followed (303 and 302 after POST become GET)."""
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, data, headers or {})
            response.hops = hops
            location = response.headers.get("Location")
            if not follow or response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            hops.append(f"{response.status} {_path_and_query(url)}")
            url = urllib.parse.urljoin(url, location)
            if response.status in (301, 302, 303) and method != "HEAD":
                method, data = "GET", None
        raise HttpError(f"more than {MAX_REDIRECTS} redirects: {' -> '.join(hops[-4:])}")

    def get(self, url: str, **kwargs) -> Response:
        return self.request("GET", url, **kwargs)

    def post_form(self, url: str, fields: Mapping[str, str], **kwargs) -> Response:
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
        return self.request("POST", url, data=body, headers=headers, **kwargs)

    def cookie_names(self) -> list[str]:
        return sorted(cookie.name for cookie in self.cookies)

    def _once(self, method: str, url: str, data: bytes | None, headers: Mapping[str, str]) -> Response:
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, url, _headers(answer.headers), answer.read(MAX_BODY))
        except urllib.error.HTTPError as answer:  # 3xx (our handler declined) and 4xx/5xx
            with answer:
                body = answer.read(MAX_BODY) if answer.fp is not None else b""
            return Response(answer.code, url, _headers(answer.headers), body)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HttpError(f"{method} {_path_and_query(url)}: {reason}") from None


def _headers(message) -> dict[str, str]:
    """Case-insensitive lookup is all we need; keep the last value of repeated headers."""
    return _CaseInsensitive((key, value) for key, value in message.items())


class _CaseInsensitive(dict):
    def __init__(self, items):
        super().__init__((key.lower(), value) for key, value in items)

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())


def _path_and_query(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{_short(parts.query)}" if parts.query else "")


def _short(query: str, limit: int = 60) -> str:
    """Queries carry state/code tokens: shorten them so messages stay readable."""
    return query if len(query) <= limit else query[:limit] + "…"
