"""The detached process behind one background forward: `python -m kfbootstrap.access.daemon SPEC_JSON`.

Started by access/forwards.py:start_background. Protocol with the starter: one JSON
line on stdout, {"ok": true} once the port is bound or {"ok": false, "error": …};
then stdout is closed. Logs go to stderr, which the starter points at
`<state dir>/forwards/<target>.log`. SIGTERM (from `expose --stop` or `down`) stops it
cleanly and removes its files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kfbootstrap.access.forwards import HEARTBEAT_SECONDS, ForwardSpec, write_json_atomically
from kfbootstrap.errors import KfbError


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            f"usage: python -m {__spec__.name if __spec__ else 'kfbootstrap.access.daemon'} SPEC_JSON", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = ForwardSpec(**json.loads(argv[1]))
    log = logging.getLogger("kfbootstrap.daemon")
    try:
        forwarder, route = _build(spec)
        forwarder.bind()
    except KfbError as exc:
        _answer({"ok": False, "error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code})
        log.error("not started: %s", exc.message)
        return 1
    except Exception as exc:  # noqa: BLE001 - the starter must hear about any failure
        _answer({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        log.exception("not started")
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    log.info(
        "forwarding %s:%s -> %s svc/%s:%s",
        spec.address,
        spec.port,
        spec.namespace,
        "|".join(spec.services),
        spec.remote_port,
    )
    heartbeat = threading.Thread(target=_heartbeat, args=(spec, route, stop), daemon=True)
    heartbeat.start()
    _answer({"ok": True, "pid": os.getpid()})
    try:
        forwarder.serve(stop)
    finally:
        forwarder.close()
        _cleanup(spec)
        log.info("stopped")
    return 0


def _build(spec: ForwardSpec):
    from kfbootstrap.kube.client import connect
    from kfbootstrap.kube.endpoints import ServiceBackends
    from kfbootstrap.kube.portforward import Forwarder, Route
    from kfbootstrap.kube.rest import Timeouts

    # The client's own defaults (10 s to connect, 60 s to answer): a daemon reads no config.
    kube = connect(spec.context, Timeouts(), spec.kubeconfig)
    backends = ServiceBackends(kube, spec.namespace, spec.services, spec.remote_port)
    route = Route(spec.target, spec.address, spec.port, backends)
    return Forwarder(kube, [route]), route


def _answer(message: dict[str, Any]) -> None:
    """Tell the starter how we did, then detach stdout so a gone starter cannot hurt us."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _heartbeat(spec: ForwardSpec, route, stop: threading.Event) -> None:
    """Every few seconds: list the Service's ready pods and write what we see to the status file."""
    while not stop.is_set():
        if _kubeconfig_gone(spec):
            logging.getLogger("kfbootstrap.daemon").info("kubeconfig %s is gone: stopping", spec.kubeconfig)
            stop.set()
            return
        list_error = None
        try:
            route.backends.refresh(force=True)
        except KfbError as exc:
            list_error = exc.message
        except Exception as exc:  # noqa: BLE001 - API unreachable etc.: report, keep serving
            list_error = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        status = {
            "pid": os.getpid(),
            "heartbeat": time.time(),
            "service": route.backends.service_name,
            "ready_pods": [b.pod for b in route.backends.current()],
            "list_error": list_error,
            **route.stats.snapshot(),
        }
        with contextlib.suppress(OSError):
            write_json_atomically(spec.status_path(), status)
        stop.wait(HEARTBEAT_SECONDS)


def _kubeconfig_gone(spec: ForwardSpec) -> bool:
    """A deleted kubeconfig means its cluster went away (a throwaway test or CI cluster): nothing left to serve."""
    if not spec.kubeconfig:
        return False
    return not any(Path(p).exists() for p in spec.kubeconfig.split(os.pathsep) if p)


def _cleanup(spec: ForwardSpec) -> None:
    """Remove our files, but never those a newer forward for the same target wrote."""
    for path in (spec.status_path(), spec.record_path()):
        try:
            owner = json.loads(Path(path).read_text()).get("pid")
        except (OSError, ValueError, AttributeError):
            continue
        if owner == os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
