"""Keep secret values out of the diagnose bundle.

Three layers, because a secret can leak in three ways:
1. every value of every Secret in the cluster (decoded, and in its base64 form) is
   replaced wherever it appears in any collected file: logs, events, ConfigMaps,
   pod specs, `kind export logs`. Values are masked in the collected objects' strings
   before anything is written (so YAML quoting, table whitespace collapsing and cell
   cutting only ever see the mask), and again in every file in the forms the files can
   show them: as is, YAML/JSON-escaped, single-quote-doubled, whitespace collapsed.
   Values shorter than MIN_LENGTH are masked where they stand alone (a whole string
   value, or a token between non-alphanumerics), never inside other words;
2. environment variables whose names look secret (PASSWORD, SECRET, TOKEN, KEY,
   CREDENTIAL) have their literal `value` replaced in pod specs before they are written;
3. `NAME=value` / `NAME: value` pairs with such upper-case names are replaced in free
   text (programs that print their environment).
Secret objects themselves are never written.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

MASK = "[REDACTED]"
# Shorter values cannot be told apart from ordinary words ("1", "true", "dev"): they stay.
MIN_LENGTH = 4
# Lines of a multi-line value (a PEM key) are also masked on their own when at least this long.
MIN_LINE_LENGTH = 16
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|(^|_)KEY($|_)", re.IGNORECASE
)
# NAME=value, NAME: value, "NAME": "value" with an upper-case env-like NAME.
_ENV_PAIR = re.compile(
    rb"""(?P<name>\b[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIALS?|KEY)[A-Z0-9_]*)"""
    rb"""(?P<sep>"?\s*[=:]\s*"?)(?P<value>[^\s"',;]{%d,})""" % MIN_LENGTH
)
# Keys of well-known Secret types that are public by design.
PUBLIC_KEYS = {"kubernetes.io/service-account-token": {"ca.crt", "namespace"}}
# User names are not secret, and masking "admin" (Grafana's admin-user) everywhere would turn
# every cluster-admin and kubeflow-admin in the bundle into noise.
_USER_KEY = re.compile(r"(^|[-_.])(user|username|user-name|admin-user|login)$", re.IGNORECASE)


def is_public_key(secret_type: str, key: str) -> bool:
    """Keys whose values stay readable: public parts of well-known types, and user names."""
    return key in PUBLIC_KEYS.get(secret_type, set()) or bool(_USER_KEY.search(key))


def looks_secret(env_name: str) -> bool:
    return bool(SECRET_NAME.search(env_name or ""))


def shown_forms(raw: bytes) -> set[bytes]:
    """The ways a file can show this value: as is, YAML double-quoted or JSON escaped, YAML single-quoted,
    with its whitespace collapsed (tables), and each line of a multi-line value."""
    import json

    forms = {raw, raw.strip(), b" ".join(raw.split())}
    text = raw.decode("utf-8", "surrogateescape")
    try:
        forms.add(json.dumps(text)[1:-1].encode())  # \" \\ \n \t, and \uXXXX for the rest
        forms.add(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        pass
    forms.add(raw.replace(b"'", b"''"))
    if b"\n" in raw.strip():
        forms.update(line.strip() for line in raw.splitlines() if len(line.strip()) >= MIN_LINE_LENGTH)
    return {form for form in forms if len(form) >= MIN_LENGTH}


@dataclass
class Redactor:
    """Knows the secret values and masks them in bytes; counts what it masked, never what."""

    values: set[bytes] = field(default_factory=set)
    short: set[bytes] = field(default_factory=set)  # masked only where they stand alone
    masked: int = 0

    def add(self, value: str | bytes) -> None:
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        if not raw.strip():
            return
        if len(raw.strip()) < MIN_LENGTH:
            self.short.add(raw.strip())
            return
        self.values.update(shown_forms(raw))

    def add_secret(self, secret: Mapping[str, Any]) -> int:
        """Every value of one Secret object (as the API returns it: base64 in `data`). Returns how many."""
        kind = secret.get("type", "")
        count = 0
        for key, encoded in (secret.get("data") or {}).items():
            if is_public_key(kind, key) or not encoded:
                continue
            self.add(encoded)  # the base64 text, as it would appear in a dumped manifest
            try:
                self.add(base64.b64decode(encoded))
            except ValueError:
                pass
            count += 1
        for key, value in (secret.get("stringData") or {}).items():
            if not is_public_key(kind, key):
                self.add(value)
                count += 1
        return count

    def scrub(self, data: bytes) -> bytes:
        """Mask every known value (longest first, so a value containing another goes whole), then env pairs."""
        for value in sorted(self.values, key=len, reverse=True):
            if value in data:
                self.masked += data.count(value)
                data = data.replace(value, MASK.encode())
        if self.short:
            data = self._short_pattern().sub(self._mask_short, data)
        return _ENV_PAIR.sub(self._mask_pair, data)

    def scrub_text(self, text: str) -> str:
        return self.scrub(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")

    def scrub_data(self, data: Any) -> Any:
        """The same masking on every string in a collected object (dicts, lists), before it is serialised."""
        if isinstance(data, str):
            if data.encode("utf-8", "surrogateescape").strip() in self.short:
                self.masked += 1
                return MASK
            return self.scrub_text(data)
        if isinstance(data, dict):
            return {key: self.scrub_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.scrub_data(item) for item in data]
        return data

    def _short_pattern(self) -> "re.Pattern[bytes]":
        alternatives = b"|".join(re.escape(v) for v in sorted(self.short, key=len, reverse=True))
        return re.compile(rb"(?<![A-Za-z0-9])(?:" + alternatives + rb")(?![A-Za-z0-9])")

    def _mask_short(self, match: re.Match) -> bytes:
        self.masked += 1
        return MASK.encode()

    def _mask_pair(self, match: re.Match) -> bytes:
        if match.group("value") == MASK.encode() or not looks_secret(match.group("name").decode()):
            return match.group(0)
        self.masked += 1
        return match.group("name") + match.group("sep") + MASK.encode()


def redact_pod_env(pod: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """Mask literal values of secret-looking env vars in a pod (or pod template) spec, in place.

    The masked values are also given to `redactor`, so the same text is masked in logs.
    """
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            for env in container.get("env") or []:
                if "value" in env and looks_secret(env.get("name", "")):
                    if redactor is not None and env["value"]:
                        redactor.add(str(env["value"]))
                    env["value"] = MASK
    return pod
