"""Install KServe server-side as its own step, from the release's KServe kustomization.

The Makefile applied KServe separately with `--server-side --force-conflicts` because
its CRDs are too large for client-side apply. Our engine always applies server-side
with forced conflicts, so this is the same ManifestsStep on another path (the path
moved between releases: see kfbootstrap/releases.py). Since v1.10 the `example` also
contains KServe; applying the identical objects again changes nothing but their
component label, and the marker makes re-runs skip it.
"""

from __future__ import annotations

from kfbootstrap.steps.kubeflow import ManifestsStep


class KServeStep(ManifestsStep):
    name = "kserve"
    component = "kserve"
    what = "KServe"
    title = "Install KServe (server-side)"
