"""The KServe smoke check: serve a small sklearn model and get a prediction back.

`smoke` proves serving works, not only that KServe's controller runs: the model named by
`smoke.kserve_model` (KServe's public iris example by default, or a local file) is served
the way `kfbootstrap serve` serves it, asked for two iris predictions through smoke's own
forward, and removed again, whatever happened. An empty `smoke.kserve_model` skips it: a machine
that can reach no model store, or a cluster with nothing to run a predictor on, says so.
"""

from __future__ import annotations

import json
from dataclasses import replace

from kfbootstrap.errors import KfbError
from kfbootstrap.smoke.checks import CheckContext, CheckFailed, CheckSkipped, expect_json
from kfbootstrap.smoke.http import HttpError

MODEL_NAME = "kfb-smoke-model"
SERVICE_KEY = "kserve-smoke-model"  # its predictor, as kfbootstrap/components.py names it
IRIS_ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]


def serves_a_model(ctx: CheckContext) -> str:
    from kfbootstrap.serving.catalog import delete_served
    from kfbootstrap.serving.serve import ServeRequest, serve

    if ctx.config is None or ctx.kube is None:
        raise CheckFailed("no cluster to serve a model on")
    if not ctx.config.smoke.kserve_model.strip():
        raise CheckSkipped("smoke.kserve_model is empty: serving a model is not checked")
    config, kube = ctx.config, ctx.kube()
    namespace = config.serve.namespace
    request = ServeRequest(config.smoke.kserve_model, MODEL_NAME, "sklearn", namespace, None, config.timeouts.serve)
    try:
        served = serve(kube, config, request, progress=lambda text: None, forward=False)
        predictions = _predict(ctx, namespace)
    except KfbError as exc:
        raise CheckFailed(f"serving {config.smoke.kserve_model} in {namespace}: {exc.message}") from None
    finally:
        try:
            delete_served(kube, MODEL_NAME, namespace)
        except KfbError:
            pass  # nothing was created, or the cluster went away: the check's result says why
    return f"{len(predictions)} predictions {predictions} from {served.runtime} in {served.seconds:.0f}s"


def _predict(ctx: CheckContext, namespace: str) -> list:
    service = replace(ctx.services[SERVICE_KEY], namespace=namespace)
    url = f"{ctx.endpoints.base_url(service)}/v1/models/{MODEL_NAME}:predict"
    body = json.dumps({"instances": IRIS_ROWS}).encode()
    try:
        response = ctx.session().request("POST", url, data=body, headers={"Content-Type": "application/json"})
    except HttpError as exc:
        explain = getattr(ctx.endpoints, "explain", None)
        why = explain(service) if explain else None
        raise CheckFailed(f"no answer: {exc}" + (f" (forward: {why})" if why else "")) from None
    predictions = expect_json(response, f"POST /v1/models/{MODEL_NAME}:predict").get("predictions")
    if not isinstance(predictions, list) or len(predictions) != len(IRIS_ROWS):
        raise CheckFailed(f"expected {len(IRIS_ROWS)} predictions, got {str(predictions)[:200]}")
    return predictions
