"""Why many workloads are not ready for one reason: read a cause from a pod, group workloads by it.

On a machine whose nodes cannot pull images, 26 workloads sit in ImagePullBackOff and each
message names its own image. What the user needs is one line: every pull fails the same way
at the same endpoint, and what to check. `pod_cause` reads one pod's status (the kubelet's
own messages) into a Cause whose key leaves out what differs per workload (image, pod,
source port), and `group_by_cause` puts the workloads of one cause together. Everything
here is pure: no API calls, so the unit tests feed it the kubelet's real message formats.

Causes read: image pulls (error class and endpoint: the address dialled, else the URL's
host, else the image's registry), scheduling (the scheduler's message), a missing Secret
or ConfigMap (CreateContainerConfigError, or a FailedMount event), crash loops (the last
termination's reason and exit code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Generic, Mapping, Protocol, Sequence, TypeVar

PULL, SCHEDULING, MISSING, CRASH = "pull", "scheduling", "missing", "crash"
PULL_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "RegistryUnavailable", "ErrImageNeverPull")


@dataclass(frozen=True)
class Cause:
    """One reason several workloads can share: `key` is what makes two the same."""

    key: tuple[str, ...]
    title: str  # what fails, in one line
    hint: str  # what to check or do


# ---------------------------------------------------------------- image pulls

# The kubelet's message for ImagePullBackOff: `Back-off pulling image "X": ErrImagePull: <the pull's error>`
# (pkg/kubelet/images/image_manager.go); for ErrImagePull the CRI's error itself.
_BACKOFF = re.compile(r'^Back-off pulling image "[^"]*"(?::\s*)?')
_ERROR_NAME = re.compile(r"^(?:ErrImagePull|RegistryUnavailable|SignatureValidationFailed|ErrImageNeverPull):\s*")
_RPC = re.compile(r"^rpc error: code = \w+ desc = ")
_DIAL = re.compile(
    r"(?P<proxy>proxyconnect tcp: )?dial tcp"
    r"(?: (?P<addr>\[[0-9A-Fa-f:.]+\]:\d+|[^\s:\[\]]+:\d+)|: lookup (?P<name>[^\s:]+)(?: on (?P<resolver>\S+))?): (?P<why>.+)$"
)
_STATUS = re.compile(r"unexpected status(?: code)? from \w+ request to (?P<url>https?://\S+?): (?P<why>\d{3}\b.*)$")
_URL = re.compile(r'\b(?:Head|Get|Post|HEAD|GET|POST) "(?P<url>https?://[^"]+)": (?P<why>.+)$')
_SOCKETS = re.compile(r"\b(?:read|write) (?:tcp|udp)\S* \S+->\S+: ")  # source ports differ per pull
_DIGEST = re.compile(r"sha256:[0-9a-f]{12,64}")
_QUOTED = re.compile(r'"[^"]*"')
_UNREACHABLE = (
    "connection refused",
    "i/o timeout",
    "no such host",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "server misbehaving",
    "timeout",
    "deadline exceeded",
    "eof",
    "tls handshake",
)


def registry_of(image: str) -> str:
    """The registry an image reference names, as containerd resolves it (docker.io when none)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1", "localhost")


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _innermost(message: str) -> str:
    """The pull's own error: without the back-off wrapper, the error name and the gRPC envelope."""
    text = _BACKOFF.sub("", message.strip(), count=1)
    text = _ERROR_NAME.sub("", text, count=1)
    return _RPC.sub("", text, count=1).strip()


def pull_failure(message: str, image: str) -> tuple[str, str]:
    """(error class, endpoint) of a failed pull: what 26 pulls refused the same way have in common.

    The endpoint is a proxy or a local address dialled (`dial tcp 127.0.0.1:1`, the same for
    every registry), the DNS server a failed lookup asked (the same for every registry), else the
    registry's host from the request's URL (not the address its name resolved to, which varies
    between pulls), the host looked up, or the image's registry; the class is the error at the
    bottom, never the image.
    """
    text = _SOCKETS.sub("", _innermost(message))
    lowered = text.lower()
    dial = _DIAL.search(text)
    if dial:
        why = dial["why"].strip()
        if dial["proxy"]:  # every registry goes through the proxy: it is the endpoint that fails
            return why, f"{dial['addr'] or dial['name']} (proxy)"
        if dial["resolver"]:  # every registry's name is asked of the same DNS server: it is what fails
            return f"DNS lookup: {why}", dial["resolver"]
        if dial["name"]:
            return f"lookup: {why}", dial["name"]
        url = _URL.search(text)
        if url and not _loopback(dial["addr"]):  # a registry's name, not one of its round-robin addresses
            return why, _host(url["url"])
        return why, dial["addr"]
    status = _STATUS.search(text)
    if status:
        return status["why"].strip(), _host(status["url"])
    if "toomanyrequests" in lowered:
        return "429 Too Many Requests (pull rate limit)", registry_of(image)
    url = _URL.search(text)
    if url:
        return _normalised(url["why"]), _host(url["url"])
    if "pull access denied" in lowered or "insufficient_scope" in lowered:
        return "pull access denied (no such repository, or it needs credentials)", registry_of(image)
    if lowered.endswith(": not found") or lowered == "not found":
        return "not found (no such image or tag)", registry_of(image)
    if not text or text.lower().startswith("back-off pulling image"):
        return "back-off (the kubelet kept no error)", registry_of(image)
    return _normalised(text.rsplit(": ", 1)[-1] or text), registry_of(image)


def _normalised(text: str) -> str:
    return _QUOTED.sub('"…"', _DIGEST.sub("sha256:…", text)).strip()


def pull_cause(message: str, image: str, reason: str = "ErrImagePull") -> Cause:
    if reason == "InvalidImageName":
        return Cause(
            (PULL, "invalid image name", ""),
            "image names are invalid",
            "the render names images containerd cannot parse: check the manifests (or your overrides)",
        )
    why, endpoint = pull_failure(message, image)
    return Cause((PULL, why, endpoint), f"image pulls fail: {why} ({endpoint})", _pull_hint(why, endpoint))


def _pull_hint(why: str, endpoint: str) -> str:
    lowered = why.lower()
    if "429" in lowered or "rate limit" in lowered:
        return (
            f"{endpoint} limits anonymous pulls: set DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (or "
            "KFB_CACHE_AUTH_<REGISTRY>=user:token) for the image cache, which then keeps every layer"
        )
    if any(sign in lowered for sign in ("401", "403", "denied", "unauthorized", "forbidden")):
        return (
            f"{endpoint} refused the pull: the image may be private (credentials: KFB_CACHE_AUTH_<REGISTRY> or "
            "Docker's config.json) or its repository may not exist; `kfbootstrap images list` names every image"
        )
    if lowered.startswith("not found"):
        return f"no such image or tag on {endpoint}: compare with `kfbootstrap images list` (a tag gone upstream?)"
    if any(sign in lowered for sign in ("x509", "certificate")):
        return (
            f"the nodes do not trust {endpoint}'s TLS certificate: a proxy that intercepts TLS needs its CA "
            "trusted by the nodes' containerd; or use the image cache (cache.registries)"
        )
    if lowered.startswith("dns lookup"):
        return (
            f"the nodes' DNS server {endpoint} cannot resolve the registries: check this "
            "machine's DNS and network (Docker's embedded DNS forwards to the host's resolvers) and its proxy; "
            "`kfbootstrap images pull` fills the image cache while the network works"
        )
    if "no space left" in lowered:
        return "a node's disk is full: free space where Docker keeps its data (`docker system df`)"
    if any(sign in lowered for sign in _UNREACHABLE):
        return (
            f"the nodes cannot reach {endpoint}: check this machine's network, proxy and DNS, and the registry "
            "settings (cache.registries); `kfbootstrap cache status` shows the image cache, and "
            "`kfbootstrap images pull` fills it while the network works"
        )
    return f"pulls from {endpoint} fail: `kubectl describe pod` shows the kubelet's events for one of them"


# ---------------------------------------------------------------- scheduling


def scheduler_reason(message: str) -> str:
    """The scheduler's verdict without the preemption and DRA postscripts that repeat it."""
    text = message.split(" preemption:", 1)[0].replace(" no new claims to deallocate,", "").strip()
    return text.rstrip(".") + "." if text else "not scheduled"


def scheduling_cause(message: str) -> Cause:
    text = scheduler_reason(message)
    return Cause((SCHEDULING, text), f"not scheduled: {text}", _scheduling_hint(text))


def _scheduling_hint(text: str) -> str:
    lowered = text.lower()
    hints = []
    if "insufficient" in lowered:
        hints.append(
            "the nodes lack the memory or CPU these pods request: give Docker more (Docker Desktop: Settings → "
            "Resources), choose fewer apps (--apps, --profile pipelines) or --sizing laptop; "
            "`kfbootstrap up --dry-run` says what fits"
        )
    if "taint" in lowered:
        hints.append("no node tolerates their taints: `kubectl describe nodes | grep -A3 Taints` (a node not Ready?)")
    if "affinity" in lowered or "selector" in lowered:
        hints.append("no node matches their node selector or affinity: `kubectl get nodes --show-labels`")
    if "persistentvolumeclaim" in lowered or "volume" in lowered:
        hints.append("their volumes are not bound: `kubectl get pvc -A` and `kubectl get storageclass`")
    return "; ".join(hints) or "the scheduler cannot place them: `kubectl describe pod` and `kubectl describe nodes`"


# ---------------------------------------------------------------- missing Secrets and ConfigMaps

# The kubelet: `secret "x" not found` / `configmap "x" not found` (its managers' NotFound), and
# `couldn't find key K in Secret ns/x`; a volume's FailedMount event quotes the same.
_NOT_FOUND = re.compile(r'\b(?P<kind>secret|configmap)s? "(?P<name>[^"]+)" not found')
_NO_KEY = re.compile(r"couldn't find key (?P<key>\S+) in (?P<kind>Secret|ConfigMap) (?P<ns>[^/\s]+)/(?P<name>\S+)")
_KINDS = {"secret": "Secret", "configmap": "ConfigMap"}

# Who makes the Secrets and ConfigMaps a Kubeflow install waits for, when a controller makes them.
_PIPELINES_PROFILE = (
    "the Kubeflow Pipelines profile controller (kubeflow/kubeflow-pipelines-profile-controller, through "
    "metacontroller) copies it into each profile namespace: check both run"
)
CREATORS: dict[tuple[str, str], str] = {
    ("Secret", "mlpipeline-minio-artifact"): _PIPELINES_PROFILE,
    ("ConfigMap", "kfp-launcher"): _PIPELINES_PROFILE,
    ("ConfigMap", "metadata-grpc-configmap"): _PIPELINES_PROFILE,
    ("ConfigMap", "artifact-repositories"): _PIPELINES_PROFILE,
    ("Secret", "dex-passwords"): "kfbootstrap's Dex password step makes it: re-run `kfbootstrap up`",
}


def missing_object(message: str, namespace: str) -> tuple[str, str, str, str | None] | None:
    """(kind, namespace, name, missing key or None) named by a kubelet message, or None."""
    found = _NO_KEY.search(message)
    if found:
        return found["kind"], found["ns"], found["name"], found["key"]
    found = _NOT_FOUND.search(message)
    if found:
        return _KINDS[found["kind"].lower()], namespace, found["name"], None
    return None


def creator_of(kind: str, namespace: str, name: str, certificate: str | None = None) -> str:
    """Who makes it, as far as we can tell: a cert-manager Certificate, a known controller, or nobody known."""
    if certificate:
        return (
            f"cert-manager makes it from Certificate {namespace}/{certificate}: check cert-manager's pods "
            f"(`kubectl get pods -n cert-manager`) and `kubectl describe certificate -n {namespace} {certificate}`"
        )
    known = CREATORS.get((kind, name))
    if known:
        return known
    if kind == "Secret" and re.search(r"(cert|tls)s?$", name):
        return (
            f"a certificate Secret: cert-manager usually makes it from a Certificate (`kubectl get certificate -n "
            f"{namespace}`); check that cert-manager runs"
        )
    return (
        f"no component of ours creates {kind} {namespace}/{name}: a controller that has not run yet, or it must be "
        f"made by hand (`kubectl get events -n {namespace}`)"
    )


def missing_cause(message: str, namespace: str) -> Cause | None:
    found = missing_object(message, namespace)
    if found is None:
        return None
    kind, ns, name, key = found
    what = f"{kind} {ns}/{name} has no key {key}" if key else f"{kind} {ns}/{name} does not exist"
    return Cause((MISSING, kind, ns, name, key or ""), what, creator_of(kind, ns, name))


# ---------------------------------------------------------------- crash loops


def crash_cause(status: Mapping[str, Any]) -> Cause:
    """From a container status in CrashLoopBackOff: how its last run ended."""
    ended = ((status.get("lastState") or {}).get("terminated")) or {}
    reason = str(ended.get("reason") or "unknown")
    code = ended.get("exitCode")
    how = f"{reason}, exit {code}" if code is not None else reason
    if reason == "OOMKilled":
        hint = (
            "killed for using more memory than their limit: give Docker more memory, or raise those containers' "
            "limits; `kfbootstrap up --dry-run` shows what the platform requests"
        )
    else:
        hint = (
            "they exit right after starting: each one's last log lines are in the complete table in the log "
            "file; often they wait for something not ready yet (a database, a webhook, a Secret)"
        )
    return Cause((CRASH, reason, str(code)), f"containers crash-loop ({how})", hint)


# ---------------------------------------------------------------- one pod


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _images(pod: Mapping[str, Any]) -> dict[str, str]:
    spec = pod.get("spec") or {}
    return {
        str(c.get("name")): str(c.get("image") or "")
        for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    }


def pod_cause(pod: Mapping[str, Any]) -> Cause | None:
    """The cause a not-ready pod shows in its own status, or None when it shows none we group by."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        message = str(waiting.get("message") or "")
        if reason in PULL_REASONS:
            image = str(cs.get("image") or _images(pod).get(str(cs.get("name")), ""))
            return pull_cause(message, image, reason)
        if reason == "CreateContainerConfigError":
            return missing_cause(message, namespace)
        if reason == "CrashLoopBackOff":
            return crash_cause(cs)
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            if status.get("phase") == "Pending":
                return scheduling_cause(str(condition.get("message") or condition.get("reason") or ""))
    return None


def mount_cause(events: Sequence[Mapping[str, Any]], pod: Mapping[str, Any]) -> tuple[Cause, str] | None:
    """A missing Secret or ConfigMap a pod's volume waits for (its latest FailedMount event), or None."""
    meta = pod.get("metadata") or {}
    mine = [
        e
        for e in events
        if e.get("reason") == "FailedMount" and (e.get("involvedObject") or {}).get("name") == meta.get("name")
    ]
    for event in sorted(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True):
        cause = missing_cause(str(event.get("message") or ""), str(meta.get("namespace") or ""))
        if cause is not None:
            return cause, str(event.get("message") or "")
    return None


# ---------------------------------------------------------------- grouping


class HasCause(Protocol):
    @property
    def cause(self) -> Cause | None: ...


P = TypeVar("P", bound=HasCause)


@dataclass
class Group(Generic[P]):
    cause: Cause
    members: list[P] = field(default_factory=list)


def group_by_cause(items: Sequence[P], least: int = 2) -> tuple[list[Group[P]], list[P]]:
    """Groups of `least` or more items sharing a cause (largest first), and the rest in their order."""
    groups: dict[tuple[str, ...], Group[P]] = {}
    for item in items:
        if item.cause is not None:
            groups.setdefault(item.cause.key, Group(item.cause)).members.append(item)
    kept = [g for g in groups.values() if len(g.members) >= least]
    grouped = {id(member) for g in kept for member in g.members}
    kept.sort(key=lambda g: -len(g.members))  # stable: equal sizes keep the order they were first seen
    return kept, [item for item in items if id(item) not in grouped]
