"""The browser's login through oauth2-proxy and dex, done with plain HTTP.

Kubeflow's ingress answers an anonymous request with a redirect chain that ends on
dex's login form (via oauth2-proxy's /oauth2/start, or straight to /dex/auth). The
form is posted with the user's email and password; dex redirects to its approval
step and then to oauth2-proxy's /oauth2/callback, which sets the session cookie and
sends the browser back to the dashboard. A working login therefore ends with the
dashboard answering 200 to the same session, without sending it to dex again.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass

from kfbootstrap.smoke.http import Response, Session

DEX_PREFIX = "/dex/"
_FORM_ACTION = re.compile(r"<form\b[^>]*\baction=[\"']([^\"']*)[\"']", re.IGNORECASE)
_DEX_ERROR = re.compile(r"class=[\"'][^\"']*dex-error-box[^\"']*[\"'][^>]*>\s*(.*?)\s*<", re.IGNORECASE | re.DOTALL)


class LoginFailed(Exception):
    """The flow stopped somewhere; the message says where and what came back."""


@dataclass
class LoginResult:
    trail: str  # the redirects of the whole flow, for the report
    cookies: list[str]


def open_login_page(session: Session, base_url: str) -> Response:
    """GET the dashboard anonymously and follow redirects to dex's login form."""
    page = session.get(base_url + "/")
    if not page.path().startswith(DEX_PREFIX):
        if page.status == 200:
            raise LoginFailed(
                f"the dashboard answered without asking for a login ({page.trail()}); "
                "is authentication (oauth2-proxy) installed?"
            )
        raise LoginFailed(f"expected a redirect to the dex login, got {page.trail()}")
    if page.path().rstrip("/") == "/dex/auth" and page.status == 200:
        # Several connectors: dex shows a chooser; the static users live behind "local".
        page = session.get(_with_path(page.url, "/dex/auth/local"))
    if page.status != 200 or not _FORM_ACTION.search(page.text()):
        raise LoginFailed(f"no dex login form at the end of {page.trail()}")
    return page


def login(session: Session, base_url: str, user: str, password: str) -> LoginResult:
    """Run the whole flow; raise LoginFailed naming the step that went wrong."""
    page = open_login_page(session, base_url)
    form = _FORM_ACTION.search(page.text())
    if form is None:  # open_login_page checked it; a page that changed between two reads is still dex's fault
        raise LoginFailed(f"no dex login form at the end of {page.trail()}")
    action = html.unescape(form.group(1)) or page.url
    posted = session.post_form(
        urllib.parse.urljoin(page.url, action), {"login": user, "password": password}, follow=False
    )
    if posted.status == 200:  # dex shows the form again, with an error box
        raise LoginFailed(
            f"dex rejected the login of {user}: {_dex_error(posted) or 'the login form came back'}; "
            "check the password (`kfbootstrap creds kubeflow`)"
        )
    if posted.status not in (302, 303) or not posted.headers.get("Location"):
        raise LoginFailed(f"posting the dex login form answered {posted.status}: {_snippet(posted)}")
    landed = session.get(urllib.parse.urljoin(posted.url, posted.headers["Location"]))
    trail = f"{page.trail()} -> POST -> {landed.trail()}"
    if landed.path().startswith(DEX_PREFIX) or landed.path().startswith("/oauth2/") or landed.status != 200:
        raise LoginFailed(f"the login did not come back to the dashboard: {trail} ({_snippet(landed)})")
    again = session.get(base_url + "/", follow=False)
    if again.status != 200:
        raise LoginFailed(
            f"logged in, but the dashboard still answers {again.status} "
            f"(Location {again.headers.get('Location', '-')}): the session cookie was not accepted"
        )
    return LoginResult(trail=trail, cookies=session.cookie_names())


def _with_path(url: str, path: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=path).geturl()


def _dex_error(page: Response) -> str:
    match = _DEX_ERROR.search(page.text())
    return html.unescape(re.sub(r"\s+", " ", match.group(1))).strip() if match else ""


def _snippet(response: Response, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text())).strip()
    return (text[:limit] + "…") if len(text) > limit else (text or "empty body")
