"""`smoke --pipeline`: submit a one-step pipeline through the KFP v2beta1 API and wait for it.

The pipeline is written as KFP's intermediate representation (what `kfp compile`
produces) so no SDK is needed: one container that echoes a line. The run lives in
an experiment of the user's profile namespace, as multi-user Kubeflow requires.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from kfbootstrap.releases import PROFILE_NAMESPACE
from kfbootstrap.smoke.checks import CheckContext, CheckFailed, expect_json, no_answer
from kfbootstrap.smoke.http import HttpError

EXPERIMENT = "kfbootstrap-smoke"
FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}


def tiny_pipeline(image: str) -> dict[str, Any]:
    """One task, one container, no inputs or outputs."""
    return {
        "pipelineInfo": {"name": "kfbootstrap-smoke"},
        "schemaVersion": "2.1.0",
        "sdkVersion": "kfbootstrap",
        "components": {"comp-echo": {"executorLabel": "exec-echo"}},
        "deploymentSpec": {
            "executors": {
                "exec-echo": {"container": {"image": image, "command": ["sh", "-c", "echo kfbootstrap smoke pipeline"]}}
            }
        },
        "root": {"dag": {"tasks": {"echo": {"taskInfo": {"name": "echo"}, "componentRef": {"name": "comp-echo"}}}}},
    }


def run_tiny_pipeline(ctx: CheckContext) -> str:
    experiment_id = _experiment(ctx)
    run = _call(
        ctx,
        "POST",
        "/apis/v2beta1/runs",
        {
            "display_name": f"kfbootstrap-smoke-{int(time.time())}",
            "experiment_id": experiment_id,
            "pipeline_spec": tiny_pipeline(ctx.pipeline_image),
        },
    )
    run_id = run.get("run_id")
    if not run_id:
        raise CheckFailed(f"creating the run answered no run_id: {json.dumps(run)[:200]}")
    _wait(ctx, run_id)
    return f"run {run_id} succeeded"


def _experiment(ctx: CheckContext) -> str:
    """Reuse our experiment in the profile namespace, or create it."""
    predicate = {"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": EXPERIMENT}]}
    query = urllib.parse.urlencode({"namespace": PROFILE_NAMESPACE, "filter": json.dumps(predicate)})
    found = _call(ctx, "GET", f"/apis/v2beta1/experiments?{query}").get("experiments") or []
    if found:
        return found[0]["experiment_id"]
    created = _call(
        ctx, "POST", "/apis/v2beta1/experiments", {"display_name": EXPERIMENT, "namespace": PROFILE_NAMESPACE}
    )
    return created["experiment_id"]


def _wait(ctx: CheckContext, run_id: str) -> str:
    deadline = time.monotonic() + ctx.pipeline_timeout
    state = "unknown"
    while time.monotonic() < deadline:
        run = _call(ctx, "GET", f"/apis/v2beta1/runs/{run_id}")
        state = run.get("state") or "unknown"
        if state == "SUCCEEDED":
            return state
        if state in FINAL_STATES:
            error = (run.get("error") or {}).get("message", "")
            raise CheckFailed(f"run {run_id} ended {state}{': ' + error if error else ''}")
        time.sleep(ctx.poll_interval)
    raise CheckFailed(f"run {run_id} did not finish within {ctx.pipeline_timeout:.0f}s (last state {state})")


def _call(ctx: CheckContext, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"kubeflow-userid": ctx.user, "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    try:
        response = ctx.session().request(method, ctx.url("pipelines", path), data=data, headers=headers)
    except HttpError as exc:
        raise CheckFailed(no_answer(ctx, "pipelines", exc)) from None
    return expect_json(response, f"{method} {path.split('?')[0]}")
