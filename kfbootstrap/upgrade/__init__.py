"""Upgrading an installed platform: plan (kfbootstrap/upgrade/plan.py), then carry it out around the apply
(kfbootstrap/upgrade/carry_out.py). The record it works from is the ApplySet in kfbootstrap/kube/applyset.py."""

from __future__ import annotations

from kfbootstrap.errors import UsageError


class DowngradeRefused(UsageError):
    """`up` with an older release than the one installed (exit 2, USAGE) unless --allow-downgrade."""

    def __init__(self, installed: str, target: str):
        super().__init__(
            f"Kubeflow {installed} is installed; {target} is older and downgrades are refused",
            hint=f"choose --kubeflow-version {installed} (or newer), or pass --allow-downgrade if you mean it "
            "(what only the newer release has is pruned; namespaces, PVCs and users' objects are kept)",
        )
