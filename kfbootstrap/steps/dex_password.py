"""Give the Kubeflow user a password of its own before Dex serves its first login.

Runs before the Kubeflow step: it creates namespace `auth` when needed and writes
the hash into Secret dex-passwords, so the Dex Deployment that step creates starts
with it; the Kubeflow step then applies the render with this hash in place of the
public default (kfbootstrap/access/passwords.py says where the password comes from).
"""

from __future__ import annotations

from kfbootstrap.access import passwords
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step


class DexPasswordStep(Step):
    name = "dex_password"
    title = "Set the Kubeflow user's password"

    def check(self, ctx: RunContext) -> None:
        passwords.from_environment(ctx.config)  # a named but unset variable fails before anything changes

    def describe(self, ctx: RunContext) -> str:
        if ctx.config.kubeflow.password:
            return f"{self.title} from ${ctx.config.kubeflow.password} (its bcrypt hash into auth/dex-passwords)"
        return (
            f"{self.title}: a random one, kept in the cluster on re-runs (`kfbootstrap creds kubeflow` shows it; "
            "kubeflow.keep_default_password: true keeps 12341234)"
        )

    def is_done(self, ctx: RunContext) -> bool:
        """Done when Dex's hash already matches the password we would choose (nothing to write)."""
        chosen = passwords.choose(ctx.config, ctx.kube)
        return (
            chosen.source != "random"
            and passwords.stored_password(ctx.kube) == chosen.password
            and passwords.matches(chosen.password, passwords.current_hash(ctx.kube))
        )

    def run(self, ctx: RunContext) -> str | None:
        chosen = passwords.choose(ctx.config, ctx.kube)
        passwords.set_password(ctx.kube, chosen.password)
        return f"{chosen.source}; `kfbootstrap creds kubeflow` shows it"
