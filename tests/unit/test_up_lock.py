"""The up lock's rules that the testbed cannot stage quickly: a holder whose clock is ahead of ours, a holder
on this machine whose process is gone, a renewal that finds the lock taken over. The API server is a
small in-memory stand-in that keeps resourceVersions and answers a stale one with 409, as the real one
does for a merge patch carrying metadata.resourceVersion (tests/integration/test_up_lock.py runs the
real one)."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.errors import Conflict
from kfbootstrap.kube.lease import NAME, LockHeld, UpLock, holder_of, micro_time


class FakeLeases:
    def __init__(self) -> None:
        self.lease: dict | None = None
        self.version = 0

    def get(self, resource, name, namespace=None):
        return copy.deepcopy(self.lease)

    def create(self, resource, obj, namespace=None):
        if self.lease is not None:
            return None
        self.lease = copy.deepcopy(dict(obj))
        return self._stamp()

    def patch(self, resource, name, body, namespace=None):
        assert self.lease is not None
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != self.lease["metadata"]["resourceVersion"]:
            raise Conflict("the object has been modified", hint="")
        for key, value in (body.get("spec") or {}).items():
            if value is None:
                self.lease["spec"].pop(key, None)
            else:
                self.lease["spec"][key] = value
        return self._stamp()

    def _stamp(self) -> dict:
        assert self.lease is not None
        self.version += 1
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)

    def hold(self, who: str, renewed: datetime, duration: int = 60) -> None:
        self.create(
            None,
            {
                "metadata": {"name": NAME, "namespace": "kube-system"},
                "spec": {
                    "holderIdentity": who,
                    "acquireTime": micro_time(renewed),
                    "renewTime": micro_time(renewed),
                    "leaseDurationSeconds": duration,
                    "leaseTransitions": 0,
                },
            },
        )


def lock(kube: FakeLeases, me: str = "me@here:1", **kwargs) -> UpLock:
    return UpLock(kube, me=me, renew_every=3600, **kwargs)  # type: ignore[arg-type]


def test_a_free_lock_is_taken_and_released():
    kube = FakeLeases()
    mine = lock(kube)
    assert mine.acquire(0) is None
    spec = kube.lease["spec"]
    assert spec["holderIdentity"] == "me@here:1" and spec["leaseDurationSeconds"] == 60
    assert spec["acquireTime"] and spec["renewTime"]
    mine.release()
    assert holder_of(kube.lease) is None


def test_a_live_holder_is_named_and_waited_for_until_the_bound():
    kube = FakeLeases()
    kube.hold("alice@laptop:4711", datetime.now(timezone.utc))
    waits = []
    with pytest.raises(LockHeld) as held:
        lock(kube).acquire(0.5, on_wait=lambda holder, left: waits.append(holder.identity))
    assert waits == ["alice@laptop:4711"]
    assert "alice@laptop:4711 (taken 0s ago, renewed 0s ago) holds the lock" in held.value.message
    assert held.value.exit_code == 1


def test_a_holder_whose_clock_runs_ahead_is_gone_once_nothing_changed_for_its_duration():
    """renewTime lies in our future: by the times alone it would never be stale. What we saw counts."""
    kube = FakeLeases()
    kube.hold("fast-clock@elsewhere:9", datetime.now(timezone.utc) + timedelta(hours=1), duration=1)
    taken = []
    mine = lock(kube)
    mine.acquire(10, on_takeover=lambda holder, why: taken.append(why))
    assert taken == ["not renewed while we watched it for 1s"]
    assert kube.lease["spec"]["holderIdentity"] == "me@here:1" and kube.lease["spec"]["leaseTransitions"] == 1


def test_a_holder_on_this_machine_whose_process_is_gone_is_taken_over_before_its_duration():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    kube = FakeLeases()
    who = f"someone@{socket.gethostname()}:{dead.pid}"
    kube.hold(who, datetime.now(timezone.utc) - timedelta(seconds=40), duration=600)
    taken = []
    lock(kube).acquire(0, on_takeover=lambda holder, why: taken.append((holder.identity, why)))
    assert taken == [(who, f"its process {dead.pid} on this machine is gone")]


def test_a_live_process_on_this_machine_keeps_its_lock():
    kube = FakeLeases()
    kube.hold(f"someone@{socket.gethostname()}:{os.getppid()}", datetime.now(timezone.utc) - timedelta(seconds=40))
    with pytest.raises(LockHeld):
        lock(kube).acquire(0)


def test_a_renewal_that_finds_the_lock_taken_over_stops_the_run_at_the_next_step():
    kube = FakeLeases()
    mine = lock(kube)
    mine.acquire(0)
    assert kube.lease is not None
    kube.lease["spec"]["holderIdentity"] = "bob@desk:2"  # bob took it over: we looked gone to him
    kube.lease["metadata"]["resourceVersion"] = "99"
    mine.renew()
    with pytest.raises(KfbError) as lost:
        mine.check()
    assert "took over the lock Lease kube-system/kfbootstrap-up from this run: bob@desk:2" in lost.value.message
    mine.release()
    assert kube.lease["spec"]["holderIdentity"] == "bob@desk:2"  # never released from under its holder
