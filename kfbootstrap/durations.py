"""Durations as people write them on a command line: 90, 90s, 45m, 1h30m."""

from __future__ import annotations

import re

from kfbootstrap.errors import UsageError

# ASCII digits only: str.isdigit() and \d also accept "²" or "١", which int() then rejects or misreads.
_PART = re.compile(r"([0-9]+)([hms])", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, flag: str = "--timeout") -> int:
    """Seconds in `text`; a bare number is seconds. Raises UsageError naming the flag."""
    value = text.strip().lower()
    if _NUMBER.fullmatch(value):
        seconds = int(value)
    else:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise UsageError(f"{flag} {text!r} is not a duration", hint="use e.g. 3600, 90s, 45m or 1h30m")
        seconds = sum(int(number) * _UNIT[unit] for number, unit in parts)
    if seconds <= 0:
        raise UsageError(f"{flag} must be more than zero", hint="use e.g. 45m")
    return seconds
