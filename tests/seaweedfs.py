"""A real S3 server for the object-store smoke check: SeaweedFS's `weed server -s3`.

Kubeflow 26.03.1 runs SeaweedFS as its object store, so the check is tested against the
same server, which verifies AWS SigV4 signatures with its own code (not ours, not the
signing library's). `tests/testbed/build_seaweedfs.sh` builds and caches the binary
(`make testbed`); every listener binds 127.0.0.1 on a port picked free for this server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.testbed.cluster import free_ports

BUILD_SCRIPT = Path(__file__).resolve().parent / "testbed" / "build_seaweedfs.sh"
READY_TIMEOUT = 90.0  # master, volume, filer and S3 gateway start one after the other; 2 busy cores


class WeedNotBuilt(RuntimeError):
    """The weed binary is not in the cache; `make testbed` builds it."""


def locate_weed() -> Path:
    """Ask the build script where the cached binary is, without building anything."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT), "--check"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WeedNotBuilt(result.stderr.strip() or "build_seaweedfs.sh --check failed")
    return Path(result.stdout.strip().splitlines()[-1])


class SeaweedS3:
    """`weed server` with a filer and the S3 gateway; one identity (access key, secret key) may do anything."""

    def __init__(self, weed: Path, access_key: str, secret_key: str, buckets: tuple[str, ...] = ("mlpipeline",)):
        self.weed, self.access_key, self.secret_key, self.buckets = weed, access_key, secret_key, buckets
        self.port = 0
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "SeaweedS3":
        self._workdir = Path(tempfile.mkdtemp(prefix="kfb-seaweedfs-"))
        try:
            self._start(self._workdir)
            self._wait_ready()
            self._create_buckets()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)  # its data is thrown away: no need for a long graceful stop
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def _start(self, workdir: Path) -> None:
        (workdir / "data").mkdir()
        config = workdir / "s3.json"
        config.write_text(json.dumps(self._identities()))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, self.port, s3_grpc = free_ports(8)
        self._master = f"127.0.0.1:{master}.{master_grpc}"
        argv = [
            str(self.weed),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={workdir / 'data'}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.volumeSizeLimitMB=64",  # tests write nothing: keep the volumes it may create small
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]
        self._log = workdir / "weed.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)

    def _identities(self) -> dict:
        return {
            "identities": [
                {
                    "name": "kubeflow-pipelines",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }

    def _wait_ready(self) -> None:
        """Ready when an anonymous ListBuckets is refused the way S3 refuses it (the gateway has its config)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"weed server exited {self._process.returncode}:\n{self._tail()}")
            try:
                if requests.get(self.url + "/", timeout=2).status_code == 403:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"weed's S3 gateway did not answer within {READY_TIMEOUT:.0f}s:\n{self._tail()}")

    def _create_buckets(self) -> None:
        """Through `weed shell`, SeaweedFS's admin tool: no S3 request, so no signing code of ours is involved."""
        commands = "".join(f"s3.bucket.create -name {bucket}\n" for bucket in self.buckets)
        result = subprocess.run(
            [str(self.weed), "shell", f"-master={self._master}"],
            input=commands + "exit\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"weed shell exited {result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _tail(self) -> str:
        return self._log.read_text(errors="replace")[-3000:] if self._log.exists() else ""
