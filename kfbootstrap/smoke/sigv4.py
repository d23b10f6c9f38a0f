"""AWS Signature Version 4 for S3 requests, with hmac and hashlib only (no boto).

Enough of the algorithm for the object-store check (a GET with no body); the pieces
are separate functions so a test stand-in can verify a signature the same way an S3
server does. Reference: the "Signature Version 4 signing process" in the AWS docs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import urllib.parse
from typing import Mapping

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def sign_request(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    *,
    region: str = "us-east-1",
    service: str = "s3",
    payload: bytes = b"",
    now: _dt.datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers to send with the request: the given ones plus Host, X-Amz-Date, X-Amz-Content-Sha256, Authorization."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    parts = urllib.parse.urlsplit(url)
    payload_hash = hashlib.sha256(payload).hexdigest()
    signed = {"host": parts.netloc, "x-amz-date": amz_date}
    if service == "s3":  # S3 wants the payload hash as a header, and signed
        signed["x-amz-content-sha256"] = payload_hash
    signed.update({key.lower(): value for key, value in (headers or {}).items()})
    scope = credential_scope(amz_date[:8], region, service)
    canonical = canonical_request(method, parts.path, parts.query, signed, payload_hash)
    signature = signature_for(secret_key, amz_date, scope, canonical)
    authorization = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(sorted(signed))}, Signature={signature}"
    )
    result = {key: value for key, value in signed.items() if key != "host"}
    result["Authorization"] = authorization
    return result


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def canonical_request(method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str) -> str:
    """Method, URI-encoded path, sorted query, sorted lower-case headers, signed header list, payload hash."""
    lowered = {key.lower(): " ".join(str(value).strip().split()) for key, value in headers.items()}
    names = sorted(lowered)
    return "\n".join(
        [
            method.upper(),
            _canonical_path(path),
            _canonical_query(query),
            "".join(f"{name}:{lowered[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )


def signature_for(secret_key: str, amz_date: str, scope: str, canonical: str) -> str:
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, _ = scope.split("/")
    key = signing_key(secret_key, date, region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_path(path: str) -> str:
    # S3 signs the path as sent (each segment URI-encoded once); "/" when empty.
    return urllib.parse.quote(urllib.parse.unquote(path or "/"), safe="/-_.~")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)
