"""Fixtures for tests that need a real Kubernetes control plane (the kwok testbed).

Every test in this directory is marked `integration`. When the testbed binaries
are missing the tests skip with one reason; with KFB_REQUIRE_TESTBED=1 (CI) a
missing testbed is a failure instead, so it can never silently pass.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tests.seaweedfs import SeaweedS3, WeedNotBuilt, locate_weed
from tests.testbed.cluster import (
    Testbed,
    TestbedNotBuilt,
    dns_label,
    locate_bin_dir,
    locate_stage_dir,
    read_versions,
)

NOT_BUILT = "testbed not built: run `make testbed`"
WEED_NOT_BUILT = "SeaweedFS (weed) not built: run `make testbed`"
NO_KUBECTL = "kubectl not found on PATH (the testbed is driven with it)"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark everything collected under tests/integration as `integration`."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _testbed_required() -> bool:
    return os.environ.get("KFB_REQUIRE_TESTBED") == "1"


def _unavailable(reason: str, detail: str) -> NoReturn:
    """Skip, or fail under KFB_REQUIRE_TESTBED=1 so CI cannot pass without the testbed."""
    if _testbed_required():
        pytest.fail(f"{reason} (required by KFB_REQUIRE_TESTBED=1): {detail}", pytrace=False)
    pytest.skip(reason)


def _locate() -> tuple[Path, Path]:
    """Binaries and kwok stage files, or skip/fail with the `make testbed` hint."""
    if not shutil.which("kubectl"):
        # kwokctl polls the apiserver with kubectl from PATH (else it tries a download).
        _unavailable(NO_KUBECTL, "install kubectl")
    try:
        bin_dir = locate_bin_dir()
        stage_dir = locate_stage_dir(read_versions()["KWOK_VERSION"])
    except TestbedNotBuilt as exc:
        _unavailable(NOT_BUILT, str(exc))
    return bin_dir, stage_dir


@pytest.fixture(scope="session")
def testbed():
    """A running kwok cluster shared by the session (one per xdist worker).

    Yields a `tests.testbed.cluster.Testbed`: `.kubeconfig`, `.context`, `.bin_dir`,
    `.env` (for subprocess calls), plus `.kubectl()`, `.helm()`, `.apply()`,
    `.wait_for_condition()`, `.namespace()`, `.cluster_port_forward()`,
    `.kubectl_port_forward()`, `.api_client()`.
    """
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir) as bed:
        yield bed


@pytest.fixture
def namespace(testbed, request):
    """A namespace unique to this test, deleted (without waiting) afterwards."""
    with testbed.namespace(dns_label(request.node.name, 30)) as name:
        yield name


@pytest.fixture(scope="session")
def weed_binary():
    """SeaweedFS's `weed`, built by tests/testbed/build_seaweedfs.sh (`make testbed`), or skip/fail."""
    try:
        return locate_weed()
    except WeedNotBuilt as exc:
        _unavailable(WEED_NOT_BUILT, str(exc))


@pytest.fixture(scope="session")
def object_store(weed_binary):
    """A real S3 server (SeaweedFS) for the session: access key `minio`, a random secret key, bucket mlpipeline."""
    with SeaweedS3(weed_binary, "minio", secrets.token_urlsafe(18)) as server:
        yield server
