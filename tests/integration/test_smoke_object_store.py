"""The object-store smoke check against a real S3 server (SeaweedFS, what Kubeflow 26.03.1 runs).

The server checks the signature with its own code, so a check that signs wrongly, or a
secret key that does not match, fails here as it would on the platform. The same check
runs through the CLI and real port-forwards in test_smoke_diagnose.py.
"""

from __future__ import annotations

import pytest

from kfbootstrap.config import Config
from kfbootstrap.smoke.checks import CheckContext, Service
from kfbootstrap.smoke.plan import all_checks, services_for
from kfbootstrap.smoke.run import run_checks

CHECK = "object-store-list-buckets"


class StraightTo:
    """Endpoints straight to one local server (the CLI's are port-forwards)."""

    def __init__(self, url: str):
        self.url = url

    def base_url(self, service: Service) -> str:
        return self.url


def object_store_check(url: str, access_key: str, secret_key: str):
    context = CheckContext(
        endpoints=StraightTo(url),
        services=services_for(Config()),
        object_store_credentials=lambda: (access_key, secret_key),
        http_timeout=10,
    )
    checks = [check for check in all_checks() if check.name == CHECK]
    (result,) = run_checks(checks, {"object_store"}, context).results
    return result


def test_the_right_keys_list_the_buckets(object_store):
    result = object_store_check(object_store.url, object_store.access_key, object_store.secret_key)
    assert (result.status, result.message) == ("passed", "1 buckets: mlpipeline")


@pytest.mark.parametrize(
    "wrong, code",
    [
        ("secret", "403 SignatureDoesNotMatch"),
        ("access", "403 InvalidAccessKeyId"),
    ],
)
def test_a_wrong_key_fails_with_the_server_s_reason(object_store, wrong, code):
    access_key = object_store.access_key + ("-unknown" if wrong == "access" else "")
    secret_key = object_store.secret_key + ("-rotated" if wrong == "secret" else "")
    result = object_store_check(object_store.url, access_key, secret_key)
    assert result.status == "failed"
    assert result.message.startswith(f"the object store refused the credentials of `kfbootstrap creds minio`: {code}")
