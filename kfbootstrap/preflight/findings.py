"""The vocabulary every preflight check speaks: what was checked, ok/warn/fail, what was seen, how to fix it.

A leaf module (it imports nothing of kfbootstrap), so every check, doctor and `status` can share it.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""

    @property
    def blocker(self) -> bool:
        return self.status == FAIL
