"""One `up` at a time per cluster: a coordination.k8s.io/v1 Lease, held and renewed as controllers do.

Two `up` runs against one cluster race (both apply, both write markers, one fails, a re-run
repairs it). So `up` holds Lease kube-system/kfbootstrap-up from the moment the cluster
answers until it ends: holderIdentity `user@host:pid`, acquireTime, renewTime (renewed by a
background thread every RENEW_EVERY seconds) and leaseDurationSeconds. Every write carries
the resourceVersion read before it, so two runs can never both believe they took it.

A second run sees who holds it and since when, and waits (up to a bound) or gives up with
exit 1. A lock whose holder stopped renewing it (renewTime + leaseDurationSeconds passed,
or no change seen for that long: the holder's clock may differ from ours; or its process on
this machine is gone) is stale and taken over, with a line saying so. The end of `up`
(success, error or Ctrl-C) releases it: the holder is cleared, the Lease stays.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.errors import Conflict
from kfbootstrap.kube.objects import MANAGED_BY_LABEL

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.lease")

LEASES = Resource("coordination.k8s.io/v1", "Lease", "leases", True)
NAMESPACE = "kube-system"
NAME = "kfbootstrap-up"
DURATION = 60  # leaseDurationSeconds: a holder silent this long is gone
RENEW_EVERY = 15.0
POLL_EVERY = 2.0  # while waiting for another run


def identity() -> str:
    """user@host:pid: who holds the lock, in words a person can act on."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (a container without passwd)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def micro_time(moment: datetime) -> str:
    """The API's MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as the Lease says."""

    identity: str
    acquired: datetime | None
    renewed: datetime | None
    duration: int
    transitions: int

    def describe(self, now: datetime) -> str:
        taken = (
            f"taken {ago((now - self.acquired).total_seconds())} ago" if self.acquired else "taken at an unknown time"
        )
        renewed = f"renewed {ago((now - self.renewed).total_seconds())} ago" if self.renewed else "never renewed"
        return f"{self.identity} ({taken}, {renewed})"

    def on_this_machine_and_gone(self) -> int | None:
        """The holder's pid when it ran on this machine and that process no longer exists."""
        host_pid = self.identity.rsplit("@", 1)[-1]
        host, _, pid = host_pid.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return int(pid)
        except (PermissionError, OverflowError):
            return None
        return None


def holder_of(lease: dict[str, Any] | None) -> Holder | None:
    """The holder a Lease names, or None when it is free."""
    spec = (lease or {}).get("spec") or {}
    who = spec.get("holderIdentity")
    if not who:
        return None
    duration = spec.get("leaseDurationSeconds")
    return Holder(
        identity=str(who),
        acquired=parse_time(spec.get("acquireTime")),
        renewed=parse_time(spec.get("renewTime")),
        duration=duration if isinstance(duration, int) and duration > 0 else DURATION,
        transitions=int(spec.get("leaseTransitions") or 0),
    )


class LockHeld(KfbError):
    """Another `up` holds the lock and did not let go within the wait."""


class UpLock:
    """The lock of one cluster. `acquire`, then `release` (also on error or Ctrl-C); `check` raises if lost."""

    def __init__(
        self,
        kube: "Kube",
        *,
        me: str | None = None,
        duration: int = DURATION,
        renew_every: float = RENEW_EVERY,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.kube = kube
        self.me = me or identity()
        self.duration = duration
        self.renew_every = renew_every
        self.now = now
        self.version: str | None = None  # resourceVersion of our last write
        self.lost: Holder | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._seen: tuple[str, datetime | None] | None = None  # (holder, renewTime) last seen, and since when:
        self._seen_since = 0.0

    @property
    def where(self) -> str:
        return f"{NAMESPACE}/{NAME}"

    # ---------------------------------------------------------------- taking it

    def acquire(
        self,
        wait: float,
        on_wait: Callable[[Holder, float], None] = lambda holder, left: None,
        on_takeover: Callable[[Holder, str], None] = lambda holder, why: None,
    ) -> Holder | None:
        """Take the lock, waiting up to `wait` seconds for another holder; returns the stale holder taken over
        from, if any. Raises LockHeld naming the holder when the wait ends first."""
        deadline = time.monotonic() + wait
        waited = False
        while True:
            lease = self.kube.get(LEASES, NAME, NAMESPACE)
            now = self.now()
            if lease is None:
                created = self.kube.create(LEASES, self._lease(now, acquired=now, transitions=0), NAMESPACE)
                if created is not None:
                    self._took(created)
                    return None
                continue  # another run created it a moment ago: read it
            holder = holder_of(lease)
            stale = self._stale(holder, now) if holder is not None and holder.identity != self.me else None
            if holder is None or holder.identity == self.me or stale:
                if stale and holder is not None:
                    on_takeover(holder, stale)
                transitions = int(((lease.get("spec") or {}).get("leaseTransitions")) or 0)
                body = self._lease(now, acquired=now, transitions=transitions + (holder is not None))
                body["metadata"]["resourceVersion"] = (lease.get("metadata") or {}).get("resourceVersion")
                try:
                    self._took(self.kube.patch(LEASES, NAME, body, NAMESPACE))
                except Conflict:
                    continue  # someone else wrote it between our read and our write: look again
                return holder if stale else None
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockHeld(
                    f"another `kfbootstrap up` is running against this cluster: {holder.describe(now)} holds the lock "
                    f"Lease {self.where}",
                    hint="let it finish, or wait for it: `kfbootstrap up --wait-lock 30m`; a lock nobody renews is "
                    f"taken over {holder.duration}s after its last renewal",
                )
            if not waited:
                on_wait(holder, left)
                waited = True
            time.sleep(min(POLL_EVERY, left))

    def _stale(self, holder: Holder, now: datetime) -> str | None:
        """Why the holder counts as gone, or None while it is alive."""
        key = (holder.identity, holder.renewed)
        if key != self._seen:
            self._seen, self._seen_since = key, time.monotonic()
        if holder.renewed is not None and (now - holder.renewed).total_seconds() > holder.duration:
            silent = ago((now - holder.renewed).total_seconds())
            return f"not renewed for {silent} (a holder renews it every {int(RENEW_EVERY)}s, and {holder.duration}s without means gone)"
        if time.monotonic() - self._seen_since > holder.duration:
            return f"not renewed while we watched it for {holder.duration}s"
        if holder.renewed is None:
            return "it was never renewed"
        gone = holder.on_this_machine_and_gone()
        if gone is not None and (now - holder.renewed).total_seconds() > 2 * RENEW_EVERY:
            return f"its process {gone} on this machine is gone"
        return None

    def _lease(self, now: datetime, *, acquired: datetime, transitions: int) -> dict[str, Any]:
        return {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {MANAGED_BY_LABEL: "kfbootstrap"},
            },
            "spec": {
                "holderIdentity": self.me,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(now),
                "leaseDurationSeconds": self.duration,
                "leaseTransitions": transitions,
            },
        }

    def _took(self, lease: dict[str, Any]) -> None:
        self.version = (lease.get("metadata") or {}).get("resourceVersion")
        log.info("up lock %s taken by %s", self.where, self.me)
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="kfb-up-lock", daemon=True)
        self._renewer.start()

    # ---------------------------------------------------------------- holding it

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.renew()
            except KfbError as exc:  # the API is busy or away for a moment: try again at the next tick
                log.warning("renewing the up lock %s failed: %s", self.where, exc.message)
            if self.lost is not None:
                return

    def renew(self) -> None:
        """Move renewTime to now, if the lock is still ours (a conflict means someone else wrote it)."""
        body = {"metadata": {"resourceVersion": self.version}, "spec": {"renewTime": micro_time(self.now())}}
        try:
            self.version = self.kube.patch(LEASES, NAME, body, NAMESPACE)["metadata"]["resourceVersion"]
            return
        except Conflict:
            lease = self.kube.get(LEASES, NAME, NAMESPACE)
        holder = holder_of(lease)
        if holder is None or holder.identity != self.me:
            self.lost = holder or Holder("nobody", None, None, self.duration, 0)
            log.warning("the up lock %s was taken over by %s", self.where, self.lost.identity)
            return
        self.version = ((lease or {}).get("metadata") or {}).get("resourceVersion")  # ours, touched by someone else

    def check(self) -> None:
        """Raise when another run took the lock from us (we looked gone to it)."""
        if self.lost is not None:
            raise KfbError(
                f"another `kfbootstrap up` took over the lock Lease {self.where} from this run: {self.lost.identity}",
                hint="this run could not renew it in time (API server unreachable, or the machine slept); let the "
                "other run finish, then re-run `kfbootstrap up`",
            )

    # ---------------------------------------------------------------- letting go

    def release(self) -> None:
        """Stop renewing and clear the holder, unless someone took it over; never raises."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        if self.lost is not None or self.version is None:
            return
        body: dict[str, Any] = {
            "metadata": {"resourceVersion": self.version},
            "spec": {"holderIdentity": None, "renewTime": micro_time(self.now())},
        }
        try:
            for _ in range(3):
                try:
                    self.kube.patch(LEASES, NAME, body, NAMESPACE)
                    log.info("up lock %s released by %s", self.where, self.me)
                    break
                except Conflict:  # written by someone else since our last renewal: still ours?
                    lease = self.kube.get(LEASES, NAME, NAMESPACE)
                    holder = holder_of(lease)
                    if holder is None or holder.identity != self.me:
                        break
                    body["metadata"]["resourceVersion"] = ((lease or {}).get("metadata") or {}).get("resourceVersion")
        except KfbError as exc:
            log.warning("releasing the up lock %s failed: %s (it expires on its own)", self.where, exc.message)
        self.version = None
