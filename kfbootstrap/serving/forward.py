"""The background forward to a served model's predictor, as `expose` runs them.

One forward per model, recorded as `model-NAME` among `expose`'s forwards (so `expose --list`,
`status` and `down` see it too). Its local port stays the same across re-runs: the first free one
from `serve.port` up, unless the user gives --port.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from kfbootstrap.access import forwards
from kfbootstrap.access.expose import Plan, ensure_background, plan
from kfbootstrap.components import Target
from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

PORTS_TRIED = 100
PREDICTOR_PORT = 80  # the port of the `<name>-predictor` Service KServe creates in raw mode
MAX_RECORD_NAME = 40  # forward record names (access/forward_records.py)


def record_name(name: str) -> str:
    """`model-NAME`, shortened with a hash when that would not fit a record's name."""
    full = f"model-{name}"
    if len(full) <= MAX_RECORD_NAME:
        return full
    return f"{full[: MAX_RECORD_NAME - 7]}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def model_target(name: str, namespace: str, port: int) -> Target:
    return Target(
        record_name(name),
        "kserve",
        "",
        port,
        namespace,
        (f"{name}-predictor",),
        PREDICTOR_PORT,
        path=f"/v1/models/{name}",
    )


def ensure_forward(kube: "Kube", config: Config, name: str, namespace: str, port: int | None) -> tuple[Plan, bool]:
    """Start (or keep) the model's background forward; returns its plan and whether one was started."""
    port = port or _port(config, name)
    target = model_target(name, namespace, port)
    found = plan(target, config, kube, port=port, namespace=namespace)
    record, started = ensure_background(found, config)
    return found, started


def find_forward(name: str) -> forwards.ForwardRecord | None:
    return forwards.find_record(record_name(name))


def stop_forward(name: str) -> bool:
    """Stop the model's background forward; False when it had none."""
    record = find_forward(name)
    if record is None:
        return False
    forwards.stop(record)
    return True


def _port(config: Config, name: str) -> int:
    """The port this model's live forward has, else the first port no one listens on."""
    record = find_forward(name)
    if record is not None and forwards.process_alive(record.pid):
        return record.spec.port
    taken = {r.spec.port for r in forwards.read_records() if r.spec.address == config.forwards.address}
    start = config.serve.port
    for port in range(start, start + PORTS_TRIED):
        if port not in taken and forwards.port_free(config.forwards.address, port):
            return port
    raise KfbError(
        f"no free local port in {start}-{start + PORTS_TRIED - 1} for the model's forward",
        hint="pass --port, or set serve.port in kfbootstrap.yaml",
    )
