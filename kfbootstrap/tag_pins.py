"""Which commit a release tag must be at: the one pinned in releases.py, else the one we saw first.

A tag that moves is a supply-chain warning sign (a re-release at best). Tags we have
pinned in the release table are checked against that commit. A tag we could not pin
(26.03.1: its final commit was not visible when the table was written) is trusted on
first use, like ssh's known_hosts: the commit of the first clone is recorded in the
cache, beside the clones, and any later clone or checkout at another commit is refused.
Deleting the record (or the whole cache) trusts the tag anew.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

from kfbootstrap.errors import KfbError
from kfbootstrap.releases import REPOSITORY, REPOSITORY_NAME, Release

log = logging.getLogger("kfbootstrap.tag_pins")

RECORD_NAME = "trusted-tags.json"


def verify(release: Release, head: str | None, clone: Path, cache_root: Path) -> None:
    """Raise unless `head` is the commit `release.tag` must be at; record it on first use."""
    if release.commit:
        if head != release.commit:
            raise KfbError(
                f"the clone of {release.tag} in {clone} is at {head}, not the pinned {release.commit}",
                hint="the tag may have moved upstream (report it), or the clone was changed here: "
                f"delete {clone} to clone again",
            )
        return
    record = record_path(cache_root)
    trusted = _read(record)
    seen = trusted.get(release.tag, {}).get("commit")
    if seen is None:
        _record(record, trusted, release.tag, head)
        return
    if head != seen:
        raise KfbError(
            f"{REPOSITORY_NAME} {release.tag} is at {head} now, but was at {seen} when first cloned here "
            "(trust on first use: the tag moved)",
            hint=f"compare both commits upstream before trusting it; to accept the new one, remove "
            f"{release.tag!r} from {record} and run again",
        )


def record_path(cache_root: Path) -> Path:
    return cache_root / "manifests" / RECORD_NAME


def _read(record: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise KfbError(
            f"cannot read the trusted-tag record {record}: {exc}",
            hint="fix or delete that file (deleting it trusts every unpinned tag anew)",
        ) from None
    return data if isinstance(data, dict) else {}


def _record(record: Path, trusted: dict[str, dict[str, str]], tag: str, head: str | None) -> None:
    if not head:
        raise KfbError(
            f"cannot tell which commit the clone of {tag} is at", hint="check that git works: `git --version`"
        )
    trusted[tag] = {
        "commit": head,
        "repository": REPOSITORY,
        "recorded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f"{record.name}.partial-{os.getpid()}")
    partial.write_text(json.dumps(trusted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(record)
    log.info("trusting %s %s at %s from now on (first use; recorded in %s)", REPOSITORY_NAME, tag, head, record)
