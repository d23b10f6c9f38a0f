"""Our own errors for API requests: what was asked, of which object, in which context, and what to check.

The adapter (kube/api.py) raises only these, so no caller outside kube/ ever sees an
ApiException or a urllib3 error, and the CLI's error boundary prints them as one
`error:` / `hint:` pair with exit 1 instead of reporting a bug.
"""

from __future__ import annotations

from kfbootstrap.errors import KfbError


class KubeError(KfbError):
    """An API request failed. `status` is the HTTP status, 0 when no answer came."""

    def __init__(
        self, message: str, hint: str, *, status: int = 0, verb: str = "", what: str = "", context: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.status = status
        self.verb = verb
        self.what = what
        self.context = context


class NotFound(KubeError):
    """404: the object (or its namespace, or its kind) is not there."""


class Conflict(KubeError):
    """409: it exists already, or changed under us."""


class Forbidden(KubeError):
    """403: RBAC does not allow it."""


class Unauthorized(KubeError):
    """401: the credentials were refused."""


class Unreachable(KubeError):
    """No answer: connection refused or reset, DNS, TLS."""


class TimedOut(KubeError):
    """The server accepted the connection (or not) and did not answer in time."""


class Gone(KubeError):
    """410: a watch asked for a resourceVersion the server no longer has."""


class NotAnApiServer(KubeError):
    """An answer that is no API object (a web page, a proxy's banner): asking again will not change it."""


def describe_context(context: str | None) -> str:
    return context or "(current)"


def error_for(
    *,
    verb: str,
    what: str,
    context: str | None,
    server: str,
    status: int,
    message: str,
    failure: str = "",
    resource: str = "",
    namespace: str | None = None,
) -> KubeError:
    """The error for one failed request: `verb` get/list/watch/create/patch/delete, `what` the object.

    `failure` is "timeout" or "unreachable" when no answer came (status 0); `resource`
    and `namespace` make the RBAC hint a command the user can paste.
    """
    ctx = describe_context(context)
    where = f"cannot {verb} {what} (kube context {ctx})"

    def make(kind: type[KubeError], message_: str, hint: str) -> KubeError:
        return kind(message_, hint, status=status, verb=verb, what=what, context=context)

    if status == 0 and failure == "timeout":
        return make(
            TimedOut,
            f"{where}: the API server at {server} did not answer in time: {message}",
            f"check the server address {server} of context {ctx} and that the cluster is up "
            "(`kubectl cluster-info`); a busy server may need a longer timeouts.api",
        )
    if status == 0:
        return make(
            Unreachable,
            f"{where}: cannot reach the API server at {server}: {message}",
            f"is the cluster running, and is {server} the right server address for context "
            f"{ctx}? `kubectl --context {ctx} cluster-info` checks it; `kfbootstrap up` creates it",
        )
    if status == 403:
        scope = f" -n {namespace}" if namespace else ""
        return make(
            Forbidden,
            f"{where}: forbidden: {message}",
            f"your kube user lacks the RBAC permission; check it with `kubectl --context {ctx} "
            f"auth can-i {verb} {resource or 'RESOURCE'}{scope}` and ask for a role that grants it",
        )
    if status == 401:
        return make(
            Unauthorized,
            f"{where}: unauthorized: {message}",
            f"the credentials of context {ctx} were refused (expired token or certificate?); "
            "check the user entry in your kubeconfig",
        )
    kinds = {404: NotFound, 409: Conflict, 410: Gone}
    return make(
        kinds.get(status, KubeError),
        f"{where}: HTTP {status}: {message}",
        f"check that the cluster answers: `kubectl --context {ctx} get --raw /readyz`",
    )


def not_json_error(
    *, verb: str, what: str, context: str | None, server: str, status: int, body: bytes, parsed: bool = False
) -> KubeError:
    """The error for an answer that is no API object: a web page, a proxy's banner, a truncated body.

    `parsed`: the body was JSON, just not an object (a list, a string)."""
    ctx = describe_context(context)
    shown = " ".join(body[:300].decode("utf-8", "replace").split())
    shown = shown if len(shown) <= 80 else shown[:80] + "…"
    what_came = "JSON that is not an object" if parsed else "a body that is not JSON"
    return NotAnApiServer(
        f"cannot {verb} {what} (kube context {ctx}): the server at {server} answered HTTP {status} with "
        f"{what_came}, so it is no Kubernetes API server: {shown!r}",
        f"is {server} the API server of context {ctx}? Something else (a web server, a proxy) answers there; "
        f"`kubectl --context {ctx} get --raw /version` must print the server's version as JSON",
        status=status,
        verb=verb,
        what=what,
        context=context,
    )
