"""Why the API server refused an object, and whether waiting can fix it.

The apply engine retries one object at a time, so this table decides its behaviour:
objects refused because a webhook has no ready endpoint yet, because their kind is
not served yet (CRD not Established) or because their namespace is missing or still
terminating are retried with backoff until the deadline; an invalid object fails at
once, so a typo is reported in seconds instead of after twenty minutes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

# Reasons, as shown in the failure table.
WEBHOOK_NOT_READY = "webhook not ready"
KIND_NOT_SERVED = "kind not served yet"
NAMESPACE_MISSING = "namespace missing"
NAMESPACE_TERMINATING = "namespace terminating"
SERVER_BUSY = "API server busy or unreachable"
CONFLICT = "conflict"
DENIED = "denied by admission webhook"
INVALID = "invalid"
FORBIDDEN = "forbidden"
UNAUTHORIZED = "unauthorized"
OTHER = "error"

# Retryable reasons with a cap on attempts (None: until the deadline). A denial or a
# conflict can be an ordering effect that settles, but it is not worth twenty minutes.
RETRY_LIMITS: dict[str, int | None] = {
    WEBHOOK_NOT_READY: None,
    KIND_NOT_SERVED: None,
    NAMESPACE_MISSING: None,
    NAMESPACE_TERMINATING: None,
    SERVER_BUSY: None,
    CONFLICT: 6,
    DENIED: 6,
}

_WEBHOOK_SIGNS = (
    "failed calling webhook",
    "no endpoints available for service",
    "conversion webhook",
    "connection refused",
    "x509: certificate",  # cert-manager has not injected the CA bundle yet
    "service unavailable",
    "context deadline exceeded",
    "i/o timeout",
)


@dataclass(frozen=True)
class Verdict:
    """What to do about a refusal: `retry` with a short `reason`, and the server's message."""

    reason: str
    message: str

    @property
    def retryable(self) -> bool:
        return self.reason in RETRY_LIMITS

    def allows_attempt(self, attempts_so_far: int) -> bool:
        """May we try again after `attempts_so_far` attempts that all ended like this?"""
        if not self.retryable:
            return False
        limit = RETRY_LIMITS[self.reason]
        return limit is None or attempts_so_far < limit


def status_message(body: bytes | str) -> tuple[str, dict[str, Any]]:
    """The `message` and `details` of a metav1.Status body; the raw text when it is not one."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        status = json.loads(text)
    except ValueError:
        return text.strip()[:500], {}
    if not isinstance(status, dict):
        return text.strip()[:500], {}
    return str(status.get("message") or status.get("reason") or text.strip()[:500]), status.get("details") or {}


def classify(code: int, body: bytes | str) -> Verdict:
    """Map an HTTP status and metav1.Status body of a refused server-side apply to a Verdict.

    `code` 0 means the request never got an answer (connection refused, reset, timeout).
    """
    message, details = status_message(body)
    lowered = message.lower()
    if code == 0:
        return Verdict(SERVER_BUSY, message)
    if "webhook" in lowered and any(sign in lowered for sign in _WEBHOOK_SIGNS):
        return Verdict(WEBHOOK_NOT_READY, message)
    if "admission webhook" in lowered and "denied the request" in lowered:
        return Verdict(DENIED, message)
    if code == 404:
        # An apply PATCH creates a missing object, so a 404 means the namespace or the
        # resource type itself is missing.
        if details.get("kind") == "namespaces":
            return Verdict(NAMESPACE_MISSING, message)
        return Verdict(KIND_NOT_SERVED, message)
    if code == 403 and "being terminated" in lowered:
        return Verdict(NAMESPACE_TERMINATING, message)
    if code == 409:
        return Verdict(CONFLICT, message)
    if code in (429, 500, 502, 503, 504):
        return Verdict(SERVER_BUSY, message)
    if code in (400, 422):
        return Verdict(INVALID, message)
    if code == 403:
        return Verdict(FORBIDDEN, message)
    if code == 401:
        return Verdict(UNAUTHORIZED, message)
    return Verdict(OTHER, f"HTTP {code}: {message}")


def backoff(
    attempt: int, base: float = 0.5, cap: float = 8.0, jitter: float = 0.2, rand: random.Random | None = None
) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential from `base`, capped, with jitter.

    Jitter keeps hundreds of objects waiting for the same webhook from hitting it in lockstep.
    """
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    spread = (rand or random).uniform(-jitter, jitter)
    return max(0.05, delay * (1 + spread))
