"""Run a command in a pod's container and feed it bytes on stdin (what `kubectl exec -i` does).

`kfbootstrap serve` copies a model into a volume this way: `tar` in a pod of the serving
runtime's own image, the bytes streamed over the exec WebSocket, as `kubectl cp` does.
The v4 exec protocol cannot close stdin, so a command that reads stdin must stop by itself
after the bytes it was told to expect (e.g. `head -c N | tar -x`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from kfbootstrap.kube.errors import KubeError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

CHUNK = 256 * 1024
STDOUT, STDERR = 1, 2


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


def run_in_pod(
    kube: "Kube",
    namespace: str,
    pod: str,
    command: Sequence[str],
    stdin: bytes = b"",
    container: str | None = None,
    timeout: float = 600.0,
) -> ExecResult:
    """Run `command`, send `stdin`, wait for it to end (or raise KubeError after `timeout` seconds)."""
    try:
        client = kube.rest.open_exec(namespace, pod, list(command), container, with_stdin=bool(stdin))
    except Exception as exc:  # the client raises ApiException or the WebSocket's own errors
        raise KubeError(
            f"exec in pod {namespace}/{pod} was refused: {str(exc).strip().splitlines()[0][:200]}",
            hint="check that your kube user may create pods/exec in that namespace",
            verb="create",
            what=f"pods/exec {namespace}/{pod}",
            context=kube.context,
        ) from None
    out: list[bytes] = []
    err: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        for start in range(0, len(stdin), CHUNK):
            client.write_stdin(stdin[start : start + CHUNK])
            _drain(client, out, err, 0)
        while client.is_open():
            if time.monotonic() > deadline:
                raise KubeError(
                    f"`{command[0]}` in pod {namespace}/{pod} did not end in {timeout:.0f}s",
                    hint=f"see `kubectl -n {namespace} describe pod {pod}`",
                )
            _drain(client, out, err, 1)
        returncode = client.returncode
    finally:
        client.close()
    return ExecResult(
        int(returncode or 0), b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")
    )


def _drain(client, out: list[bytes], err: list[bytes], timeout: float) -> None:
    client.update(timeout=timeout)
    for channel, sink in ((STDOUT, out), (STDERR, err)):
        if client.peek_channel(channel):
            sink.append(_bytes(client.read_channel(channel)))


def _bytes(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else data.encode()
