"""The smoke checks: one small function per thing a user relies on.

Each check receives a CheckContext, which hands out a base URL per service (through
a port-forward in real runs, straight to a local server in tests) and the
credentials it needs. A check returns a short note on success and raises
CheckFailed with a message a person can act on otherwise.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from requests.auth import AuthBase

from kfbootstrap.smoke import dex
from kfbootstrap.smoke.http import HttpError, Response, Session

if TYPE_CHECKING:
    from kfbootstrap.config import Config
    from kfbootstrap.kube.api import Kube

DEFAULT_USER = "user@example.com"
DEFAULT_PASSWORD = "12341234"  # upstream's public default, see DESIGN.md §2


class CheckFailed(Exception):
    """A check found the platform not working; the message is the JUnit failure message."""


class CheckSkipped(Exception):
    """The user's configuration asks for this check not to run; the message says which setting."""


class EndpointUnavailable(CheckFailed):
    """No way to reach a check's Service (e.g. its forward could not start); the check fails with this."""


@dataclass(frozen=True)
class Service:
    """A Service a check talks to: candidate names (the first that exists wins) and its port."""

    key: str  # stable id, e.g. "pipelines"
    namespace: str
    names: tuple[str, ...]
    port: int

    @property
    def name(self) -> str:
        return "|".join(self.names)


class Endpoints(Protocol):
    """Gives the base URL (http://host:port, no trailing slash) under which a service answers."""

    def base_url(self, service: Service) -> str: ...


@dataclass
class CheckContext:
    endpoints: Endpoints
    services: dict[str, Service]
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    object_store_credentials: Callable[[], tuple[str, str]] | None = None
    http_timeout: float = 15.0
    pipeline_timeout: float = 600.0
    pipeline_image: str = "busybox:1.36"
    poll_interval: float = 5.0
    api_problem: str | None = None  # the API server did not answer the first request: no check can pass
    config: "Config | None" = None  # for checks that act on the cluster (serving a model)
    kube: "Callable[[], Kube] | None" = None

    def url(self, key: str, path: str) -> str:
        return self.endpoints.base_url(self.services[key]) + path

    def session(self) -> Session:
        return Session(timeout=self.http_timeout)


# --------------------------------------------------------------------------- Kubeflow + dex


def dashboard_redirects_to_dex(ctx: CheckContext) -> str:
    try:
        page = dex.open_login_page(ctx.session(), ctx.endpoints.base_url(ctx.services["kubeflow"]))
    except dex.LoginFailed as exc:
        raise CheckFailed(str(exc)) from None
    return f"login form at {page.path()}"


def dex_login(ctx: CheckContext) -> str:
    try:
        dex.login(ctx.session(), ctx.endpoints.base_url(ctx.services["kubeflow"]), ctx.user, ctx.password)
    except dex.LoginFailed as exc:
        raise CheckFailed(str(exc)) from None
    return f"logged in as {ctx.user}"


# --------------------------------------------------------------------------- APIs


def pipelines_healthz(ctx: CheckContext) -> str:
    data = _get_json(ctx, "pipelines", "/apis/v2beta1/healthz")
    return f"KFP {data.get('tag_name') or data.get('commit_sha') or 'answered'}"


def pipelines_list(ctx: CheckContext) -> str:
    data = _get_json(ctx, "pipelines", "/apis/v2beta1/pipelines?page_size=10", headers=_user_header(ctx))
    if "pipelines" not in data and "total_size" not in data and data != {}:
        raise CheckFailed(f"GET /apis/v2beta1/pipelines answered JSON without `pipelines`: {_short(json.dumps(data))}")
    return f"{data.get('total_size', len(data.get('pipelines') or []))} pipelines"


def model_registry_list(ctx: CheckContext) -> str:
    data = _get_json(ctx, "model_registry", "/api/model_registry/v1alpha3/registered_models?pageSize=10")
    if not isinstance(data.get("items", []), list):
        raise CheckFailed(f"registered_models answered JSON without an `items` list: {_short(json.dumps(data))}")
    return f"{data.get('size', len(data.get('items') or []))} registered models"


def object_store_list_buckets(ctx: CheckContext) -> str:
    if ctx.object_store_credentials is None:
        raise CheckFailed("no object-store credentials to test")
    access_key, secret_key = ctx.object_store_credentials()
    response = _request(ctx, "object_store", ctx.url("object_store", "/"), auth=_s3_signature(access_key, secret_key))
    if response.status != 200:
        code, message = _s3_error(response)
        raise CheckFailed(
            f"the object store refused the credentials of `kfbootstrap creds minio`: "
            f"{response.status} {code}{': ' + message if message else ''}"
        )
    buckets = _bucket_names(response)
    return f"{len(buckets)} buckets" + (f": {', '.join(buckets[:5])}" if buckets else "")


def grafana_health(ctx: CheckContext) -> str:
    data = _get_json(ctx, "grafana", "/api/health")
    if data.get("database") != "ok":
        raise CheckFailed(f"Grafana is up but its database is {data.get('database')!r}")
    return f"Grafana {data.get('version', '')}".strip()


def prometheus_ready(ctx: CheckContext) -> str:
    response = _request(ctx, "prometheus", ctx.url("prometheus", "/-/ready"))
    if response.status != 200:
        raise CheckFailed(f"GET /-/ready answered {response.status}: {_short(response.text())}")
    return _short(response.text().strip(), 60) or "ready"


# --------------------------------------------------------------------------- helpers


def _request(
    ctx: CheckContext,
    key: str,
    url: str,
    headers: dict[str, str] | None = None,
    auth: AuthBase | None = None,
) -> Response:
    try:
        return ctx.session().get(url, headers=headers, auth=auth)
    except HttpError as exc:
        raise CheckFailed(no_answer(ctx, key, exc)) from None


def no_answer(ctx: CheckContext, key: str, exc: HttpError) -> str:
    """The HTTP error, plus what the forward saw (e.g. no ready pod) when the endpoints know."""
    explain = getattr(ctx.endpoints, "explain", None)
    why = explain(ctx.services[key]) if explain else None
    return f"no answer: {exc}" + (f" (forward: {why})" if why else "")


def _get_json(ctx: CheckContext, key: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = _request(ctx, key, ctx.url(key, path), headers)
    return expect_json(response, path)


def expect_json(response: Response, what: str) -> dict[str, Any]:
    if response.status != 200:
        raise CheckFailed(f"{what} answered {response.status}: {_short(response.text())}")
    try:
        data = json.loads(response.body or b"{}")
    except ValueError:
        raise CheckFailed(f"{what} answered 200 but not JSON: {_short(response.text())}") from None
    if not isinstance(data, dict):
        raise CheckFailed(f"{what} answered JSON that is not an object: {_short(response.text())}")
    return data


def _user_header(ctx: CheckContext) -> dict[str, str]:
    # ml-pipeline in multi-user mode takes the user from this header (istio sets it behind the gateway).
    return {"kubeflow-userid": ctx.user}


def _s3_signature(access_key: str, secret_key: str) -> AuthBase:
    """AWS Signature Version 4, as S3 servers (SeaweedFS, MinIO) check it; the region is S3's default."""
    from requests_aws4auth import AWS4Auth  # only this check signs: keep it off every other command's imports

    return AWS4Auth(access_key, secret_key, "us-east-1", "s3")


def _s3_error(response: Response) -> tuple[str, str]:
    """S3 errors are XML: <Error><Code>SignatureDoesNotMatch</Code><Message>…</Message></Error>."""
    try:
        root = ET.fromstring(response.body)
    except ET.ParseError:
        return "", _short(response.text())
    find = lambda tag: next((el.text or "" for el in root.iter() if el.tag.split("}")[-1] == tag), "")  # noqa: E731
    return find("Code"), find("Message")


def _bucket_names(response: Response) -> list[str]:
    try:
        root = ET.fromstring(response.body)
    except ET.ParseError:
        raise CheckFailed(f"ListBuckets answered 200 but not XML: {_short(response.text())}") from None
    if root.tag.split("}")[-1] != "ListAllMyBucketsResult":
        raise CheckFailed(f"ListBuckets answered <{root.tag.split('}')[-1]}>, not ListAllMyBucketsResult")
    return [el.text or "" for el in root.iter() if el.tag.split("}")[-1] == "Name" and el.text]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return (text[:limit] + "…") if len(text) > limit else (text or "empty body")
