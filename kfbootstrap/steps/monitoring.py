"""Grafana's Helm release in namespace `monitoring` (Prometheus's needs nothing more than the
generic Helm step, kfbootstrap/steps/helm_release.py).

Grafana's admin password is generated once (or taken from the environment variable
charts.grafana.admin_password names) into Secret `grafana` before the release
(the values only name that Secret), so it is never in Helm's history, never logged,
and not rotated by a re-run. The name is the one the chart uses for its own Secret,
so `kubectl get secret grafana -n monitoring` works as it did with the Makefile.

A release installed earlier without our values (the Makefile's `helm install
grafana`) owns a Secret of that name, which the upgrade deletes: its password is
kept in memory across the upgrade and written back, so users keep their login.
"""

from __future__ import annotations


from kfbootstrap.context import RunContext
from kfbootstrap.steps.helm_release import HelmReleaseStep

GRAFANA_ADMIN_SECRET = "grafana"  # keys below; `kfbootstrap creds grafana` reads them
GRAFANA_ADMIN_USER_KEY = "admin-user"
GRAFANA_ADMIN_PASSWORD_KEY = "admin-password"
GRAFANA_ADMIN_USER = "admin"


class GrafanaStep(HelmReleaseStep):
    component = "grafana"

    def __init__(self) -> None:
        super().__init__()
        self._adopted: dict[str, str] | None = None

    def check(self, ctx: RunContext) -> None:
        supplied_admin_password(ctx.config)  # a named but unset variable fails before anything runs

    def before_release(self, ctx: RunContext) -> None:
        from kfbootstrap.kube.generated import ensure_generated_secret, ensure_namespace, helm_owned_secret_data

        kube = ctx.kube
        ensure_namespace(kube, self.pin.namespace, self.component)
        owned = helm_owned_secret_data(kube, self.pin.namespace, GRAFANA_ADMIN_SECRET)
        if owned and {GRAFANA_ADMIN_USER_KEY, GRAFANA_ADMIN_PASSWORD_KEY} <= set(owned):
            self._adopted = {key: owned[key] for key in (GRAFANA_ADMIN_USER_KEY, GRAFANA_ADMIN_PASSWORD_KEY)}
            return
        supplied = supplied_admin_password(ctx.config)
        created = ensure_generated_secret(
            kube, self.pin.namespace, GRAFANA_ADMIN_SECRET, lambda: _new_admin(supplied), self.component
        )
        if not created and supplied is not None:
            self._warn_if_not_supplied(ctx, supplied)

    def after_release(self, ctx, result) -> str | None:
        if self._adopted is None:
            return None
        from kfbootstrap.kube.generated import ensure_generated_secret

        adopted = self._adopted
        ensure_generated_secret(ctx.kube, self.pin.namespace, GRAFANA_ADMIN_SECRET, lambda: adopted, self.component)
        return "kept the admin password of the earlier release"

    def extra_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.kube.generated import secret_keys

        keys = secret_keys(ctx.kube, self.pin.namespace, GRAFANA_ADMIN_SECRET)
        return keys is not None and {GRAFANA_ADMIN_USER_KEY, GRAFANA_ADMIN_PASSWORD_KEY} <= keys

    def _warn_if_not_supplied(self, ctx: RunContext, supplied: str) -> None:
        """Grafana sets its admin password only when its database is first created: a later change of the
        variable cannot reach it through the Secret, so say so instead of pretending."""
        from kfbootstrap import ui
        from kfbootstrap.kube.secrets import read_secret

        current = read_secret(ctx.kube, self.pin.namespace, GRAFANA_ADMIN_SECRET).get(GRAFANA_ADMIN_PASSWORD_KEY)
        variable = getattr(ctx.config.charts, self.component).admin_password
        if current != supplied:
            ui.warn(
                f"Grafana keeps the admin password it was installed with, not ${variable}'s: change it in "
                "Grafana (Profile → Change password); `kfbootstrap creds grafana` shows the one it has"
            )


def _new_admin(supplied: str | None) -> dict[str, str]:
    from kfbootstrap.kube.generated import new_password

    return {GRAFANA_ADMIN_USER_KEY: GRAFANA_ADMIN_USER, GRAFANA_ADMIN_PASSWORD_KEY: supplied or new_password()}


def supplied_admin_password(config) -> str | None:
    """Grafana's admin password from the variable charts.grafana.admin_password names, or None."""
    from kfbootstrap.access.passwords import password_from

    var = config.charts.grafana.admin_password
    if not var:
        return None
    hint = f"export {var}=..., or remove the key to get a generated password"
    return password_from(var, "charts.grafana.admin_password", hint)
