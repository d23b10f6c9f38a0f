"""The last step of `up`: background port-forwards for every enabled component, as the Makefile ended.

A forward that cannot start (its port is taken, its Service is missing) is a warning,
not a failed `up`: the platform is installed, and the summary table says which
forward is missing and the command that starts it.
"""

from __future__ import annotations

from kfbootstrap import ui
from kfbootstrap.access.targets import enabled_targets, is_loopback, local_port
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.steps.base import Step


class ForwardsStep(Step):
    name = "forwards"
    title = "Start port-forwards"

    def describe(self, ctx: RunContext) -> str:
        names = ", ".join(f"{t.name}" for t in enabled_targets(ctx.config)) or "none enabled"
        return f"Start background port-forwards ({names}); skipped with --no-expose or forwards.auto: false"

    def is_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.access import forwards

        address = _address(ctx.config, warn=False)
        for target in enabled_targets(ctx.config):
            record = forwards.find_record(target.name)
            if record is None or not forwards.process_alive(record.pid):
                return False
            if (record.spec.address, record.spec.port, record.spec.context) != (
                address,
                local_port(target, ctx.config),
                ctx.config.kube_context,
            ):
                return False
        return True

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.access.expose import ensure_background, plan

        address = _address(ctx.config, warn=True)
        started, failed = 0, []
        for target in enabled_targets(ctx.config):
            try:
                p = plan(target, ctx.config, ctx.kube, address=address)
                ensure_background(p, ctx.config)
                started += 1
            except KfbError as exc:
                failed.append(target.name)
                ui.warn(
                    f"forward for {target.name} not started: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
                )
        note = f"{started} running"
        return note + (f"; not started: {', '.join(failed)}" if failed else "")


def _address(config: Config, warn: bool) -> str:
    """`up` never exposes forwards beyond this machine on its own; `expose --address` can."""
    address = config.forwards.address
    if is_loopback(address):
        return address
    if warn:
        ui.warn(
            f"forwards.address {address} is not a loopback address; `up` binds 127.0.0.1 "
            f"(to expose on {address}, run `kfbootstrap expose --all --background --address {address}`)"
        )
    return "127.0.0.1"
