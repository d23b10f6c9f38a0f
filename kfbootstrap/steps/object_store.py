"""Find the pipelines' S3 object store Kubeflow brought, and record it for `expose` and `creds`.

Nothing is installed: every supported release brings its own store (MinIO, or
SeaweedFS behind `seaweedfs` / `minio-service`). See kfbootstrap/kube/object_store.py.
"""

from __future__ import annotations

from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.releases import RELEASES
from kfbootstrap.steps.base import Step


class ObjectStoreStep(Step):
    name = "object_store"
    title = "Find the pipelines' object store"

    def describe(self, ctx: RunContext) -> str:
        return "Find the pipelines' object store (MinIO or SeaweedFS) Kubeflow runs and record it for expose/creds"

    def is_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.kube import object_store

        found = object_store.detect(ctx.kube)
        return found is not None and object_store.read_record(ctx.kube) == found

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.kube import object_store
        from kfbootstrap.kube.apply import apply_objects

        found = object_store.detect(ctx.kube)
        if found is None:
            if ctx.config.components.on("kubeflow"):
                raise KfbError(
                    f"neither svc/seaweedfs nor svc/minio-service exists in namespace {object_store.NAMESPACE}",
                    hint="Kubeflow Pipelines did not install completely; re-run `kfbootstrap up`",
                )
            return "Kubeflow is not installed here (components.kubeflow is off): nothing to record"
        apply_objects(
            ctx.kube, [object_store.record_object(found)], component=self.name, timeout=ctx.config.timeouts.apply
        )
        note = found.describe()
        expected = RELEASES[ctx.config.kubeflow.version].object_store_service
        if found.service != expected:
            note += f"; Kubeflow {ctx.config.kubeflow.version} normally has svc/{expected}"
        return note
