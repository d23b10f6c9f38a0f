"""Small local HTTP servers standing in for the platform's services in smoke tests.

Each behaves like the real service as far as `kfbootstrap smoke` can tell: the
gateway runs oauth2-proxy's and dex's redirect/cookie/form dance, the object store
verifies AWS SigV4 signatures with its secret key, the APIs answer the JSON shapes
the real ones do. A `mode` attribute switches a stand-in into one way of being broken.
"""

from __future__ import annotations

import html
import http.server
import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from tests.seaweedfs import SeaweedS3


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values

    @classmethod
    def json(cls, data, status: int = 200) -> "Reply":
        return cls(status, json.dumps(data), {"Content-Type": "application/json"})

    @classmethod
    def redirect(cls, location: str, status: int = 302, cookies: tuple[str, ...] = ()) -> "Reply":
        return cls(status, b"", {"Location": location}, list(cookies))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    cookies: dict[str, str]

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


class StandIn:
    """One threaded HTTP server on 127.0.0.1; subclasses implement handle()."""

    mode = "ok"

    def __init__(self):
        app = self
        self.requests: list[Request] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                cookies = SimpleCookie(self.headers.get("Cookie") or "")
                request = Request(
                    self.command,
                    parts.path,
                    dict(urllib.parse.parse_qsl(parts.query)),
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    {name: morsel.value for name, morsel in cookies.items()},
                )
                app.requests.append(request)
                reply = app.handle(request)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                for cookie in reply.cookies:
                    self.send_header("Set-Cookie", cookie)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _serve  # noqa: N815 (http.server API)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def start(self) -> "StandIn":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gateway(StandIn):
    """istio-ingressgateway with oauth2-proxy in front of the dashboard, and dex behind /dex/.

    Modes: ok, no-auth (dashboard open to anyone), chooser (dex lists connectors first),
    broken-callback (oauth2-proxy fails to redeem the code), down (503 everywhere).
    """

    CSRF = "_oauth2_proxy_kubeflow_csrf"
    SESSION = "oauth2_proxy_kubeflow"

    def __init__(self, user: str = "user@example.com", password: str = "12341234"):
        super().__init__()
        self.user, self.password = user, password
        self.auth_requests: dict[str, str] = {}  # dex request id -> oauth2-proxy state
        self.codes: dict[str, str] = {}  # code -> state
        self.sessions: set[str] = set()

    def handle(self, r: Request) -> Reply:
        if self.mode == "down":
            return Reply(503, "no healthy upstream")
        if r.path.startswith("/dex/"):
            return self._dex(r)
        if r.path == "/oauth2/start":
            state = secrets.token_hex(8)
            query = urllib.parse.urlencode(
                {
                    "client_id": "kubeflow-oidc-authservice",
                    "redirect_uri": "/oauth2/callback",
                    "response_type": "code",
                    "scope": "openid profile email groups",
                    "state": state,
                }
            )
            return Reply.redirect(f"/dex/auth?{query}", cookies=(f"{self.CSRF}={state}; Path=/; HttpOnly",))
        if r.path == "/oauth2/callback":
            return self._callback(r)
        if self.mode == "no-auth" or r.cookies.get(self.SESSION) in self.sessions:
            return Reply(200, "<html><title>Kubeflow Central Dashboard</title></html>", {"Content-Type": "text/html"})
        return Reply.redirect("/oauth2/start?rd=%2F")

    def _dex(self, r: Request) -> Reply:
        if r.path == "/dex/auth":  # the OAuth2 authorization request, from oauth2-proxy
            connector = f"/dex/auth/local?{r.raw_query}"
            if self.mode == "chooser":
                return Reply(200, f'<a href="{html.escape(connector)}">Log in with Email</a>')
            return Reply.redirect(connector)
        if r.path == "/dex/auth/local":  # dex opens an auth request for the connector
            request_id = secrets.token_hex(6)
            self.auth_requests[request_id] = r.query.get("state", "")
            return Reply.redirect(f"/dex/auth/local/login?back=&state={request_id}")
        if r.path == "/dex/auth/local/login":
            request_id = r.query.get("state", "")
            if r.method == "POST":
                form = r.form()
                if (
                    form.get("login") == self.user
                    and form.get("password") == self.password
                    and request_id in self.auth_requests
                ):
                    return Reply.redirect(f"/dex/approval?req={request_id}", status=303)
                return Reply(200, self._form(request_id, error="Invalid Email Address and password"))
            return Reply(200, self._form(request_id))
        if r.path == "/dex/approval":
            state = self.auth_requests.pop(r.query.get("req", ""), None)
            if state is None:
                return Reply(400, "Unknown request")
            code = secrets.token_hex(8)
            self.codes[code] = state
            return Reply.redirect(f"/oauth2/callback?code={code}&state={state}", status=303)
        return Reply(404, "not found")

    def _callback(self, r: Request) -> Reply:
        state = self.codes.pop(r.query.get("code", ""), None)
        if self.mode == "broken-callback" or state is None:
            return Reply(500, "Internal Server Error: unable to redeem code")
        if state != r.query.get("state") or r.cookies.get(self.CSRF) != state:
            return Reply(403, "CSRF cookie does not match the state")
        session = secrets.token_hex(12)
        self.sessions.add(session)
        return Reply.redirect(
            "/", cookies=(f"{self.SESSION}={session}; Path=/; HttpOnly", f"{self.CSRF}=; Path=/; Max-Age=0")
        )

    @staticmethod
    def _form(request_id: str, error: str = "") -> str:
        action = html.escape(f"/dex/auth/local/login?back=&state={request_id}")
        box = f'<div id="login-error" class="dex-error-box">\n  {error}\n</div>' if error else ""
        return (
            f'<html><body>{box}<form method="post" action="{action}">'
            '<input name="login"><input name="password" type="password">'
            '<button type="submit">Login</button></form></body></html>'
        )


class Pipelines(StandIn):
    """ml-pipeline's v2beta1 API. Modes: ok, unhealthy, list-broken, run-fails."""

    def __init__(self):
        super().__init__()
        self.runs: dict[str, int] = {}  # run id -> times polled

    def handle(self, r: Request) -> Reply:
        if r.path == "/apis/v2beta1/healthz":
            if self.mode == "unhealthy":
                return Reply(503, "upstream connect error or disconnect/reset before headers")
            return Reply.json({"commit_sha": "0123abc", "tag_name": "2.15.0", "multi_user": True})
        if r.path == "/apis/v2beta1/pipelines":
            if self.mode == "list-broken":
                return Reply.json({"error": "Failed to list pipelines: database is locked", "code": 13}, 500)
            return Reply.json(
                {"pipelines": [{"pipeline_id": "p1", "display_name": "[Tutorial] Data passing"}], "total_size": 1}
            )
        if r.path == "/apis/v2beta1/experiments":
            if r.method == "POST":
                return Reply.json({"experiment_id": "e1", **json.loads(r.body)})
            return Reply.json({})
        if r.path == "/apis/v2beta1/runs" and r.method == "POST":
            spec = json.loads(r.body).get("pipeline_spec", {})
            if "deploymentSpec" not in spec or "root" not in spec:
                return Reply.json({"error": "invalid pipeline spec"}, 400)
            self.runs["r1"] = 0
            return Reply.json({"run_id": "r1", "state": "PENDING"})
        if r.path.startswith("/apis/v2beta1/runs/"):
            run_id = r.path.rsplit("/", 1)[1]
            self.runs[run_id] = self.runs.get(run_id, 0) + 1
            if self.runs[run_id] < 2:
                return Reply.json({"run_id": run_id, "state": "RUNNING"})
            if self.mode == "run-fails":
                return Reply.json({"run_id": run_id, "state": "FAILED", "error": {"message": "ImagePullBackOff"}})
            return Reply.json({"run_id": run_id, "state": "SUCCEEDED"})
        return Reply(404, "not found")


class ModelRegistry(StandIn):
    """model-registry-service's REST API. Modes: ok, wrong-path (404 as an older API version would)."""

    def handle(self, r: Request) -> Reply:
        if r.path == "/api/model_registry/v1alpha3/registered_models" and self.mode == "ok":
            return Reply.json({"items": [], "nextPageToken": "", "pageSize": 10, "size": 0})
        return Reply(404, "404 page not found")


class Grafana(StandIn):
    """Modes: ok, db-failing."""

    def handle(self, r: Request) -> Reply:
        if r.path != "/api/health":
            return Reply(404, "not found")
        if self.mode == "db-failing":
            return Reply.json({"commit": "abc", "database": "failing", "version": "12.1.1"}, 503)
        return Reply.json({"commit": "abc", "database": "ok", "version": "12.1.1"})


class Prometheus(StandIn):
    """Modes: ok, starting (503 while replaying the WAL)."""

    def handle(self, r: Request) -> Reply:
        if r.path != "/-/ready":
            return Reply(404, "not found")
        if self.mode == "starting":
            return Reply(503, "Service Unavailable")
        return Reply(200, "Prometheus Server is Ready.\n")


@dataclass
class Platform:
    """Every stand-in, started together; keyed like kfbootstrap.smoke.plan.services_for.

    `object_store`, when given, is a real S3 server the caller started (its lifetime is the caller's).
    """

    object_store: SeaweedS3 | None = None
    password: str = "12341234"

    def __post_init__(self):
        self.apps: dict[str, StandIn] = {
            "kubeflow": Gateway(password=self.password),
            "pipelines": Pipelines(),
            "model_registry": ModelRegistry(),
            "grafana": Grafana(),
            "prometheus": Prometheus(),
        }

    @property
    def access_key(self) -> str:
        return self._store().access_key

    @property
    def secret_key(self) -> str:
        return self._store().secret_key

    def __enter__(self) -> "Platform":
        for app in self.apps.values():
            app.start()
        return self

    def __exit__(self, *exc_info) -> None:
        for app in self.apps.values():
            app.stop()

    def port(self, key: str) -> int:
        return self._store().port if key == "object_store" else self.apps[key].port

    def urls(self) -> dict[str, str]:
        urls = {key: app.url for key, app in self.apps.items()}
        if self.object_store is not None:
            urls["object_store"] = self.object_store.url
        return urls

    def _store(self) -> SeaweedS3:
        if self.object_store is None:
            raise AssertionError("this Platform has no object store: pass object_store=SeaweedS3(...)")
        return self.object_store
