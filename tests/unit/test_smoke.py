"""Smoke checks against local stand-in services: every check passes on a healthy platform,
and each way of being broken fails its own check with a message that says what is wrong.

The object-store check needs a real S3 server: tests/integration/test_smoke_object_store.py."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

import pytest

from kfbootstrap.config import Config
from kfbootstrap.smoke.checks import CheckContext, EndpointUnavailable, Service
from kfbootstrap.smoke.plan import all_checks, services_for
from kfbootstrap.smoke.report import to_json, to_junit
from kfbootstrap.smoke.run import run_checks
from tests.smoke_standins import Platform

ALL = {"kubeflow", "model_registry", "grafana", "prometheus"}  # object_store: with a real S3 server; kserve: e2e


class LocalEndpoints:
    """Endpoints straight to the stand-ins (the integration test goes through real forwards)."""

    def __init__(self, urls: dict[str, str]):
        self.urls = urls

    def base_url(self, service: Service) -> str:
        if service.key not in self.urls:
            raise EndpointUnavailable(f"cannot forward to service {service.namespace}/{service.name}")
        return self.urls[service.key]


@pytest.fixture
def platform():
    with Platform() as running:
        yield running


def context(platform: Platform, **overrides) -> CheckContext:
    settings = dict(
        endpoints=LocalEndpoints(platform.urls()),
        services=services_for(Config()),
        http_timeout=5,
        poll_interval=0.01,
        pipeline_timeout=5,
    )
    settings.update(overrides)
    return CheckContext(**settings)


def results_by_name(report) -> dict:
    return {r.name: r for r in report.results}


# ------------------------------------------------------------------ a healthy platform


def test_every_check_passes_on_a_healthy_platform(platform):
    report = run_checks(all_checks(with_pipeline=True), ALL, context(platform))
    assert [(r.name, r.status) for r in report.results if r.status != "passed"] == [
        ("kserve-serves-a-model", "skipped"),  # not in ALL: it needs a real KServe (tests/e2e/test_kind_serve.py)
        ("object-store-list-buckets", "skipped"),
    ]
    assert report.ok and len(report.results) == 10
    notes = results_by_name(report)
    assert notes["dex-login"].message == "logged in as user@example.com"
    assert notes["pipelines-run"].message == "run r1 succeeded"
    # The login really went through oauth2-proxy's callback and came back with a session.
    assert platform.apps["kubeflow"].sessions


def test_an_empty_kserve_model_skips_serving_with_that_reason(platform):
    config = Config.model_validate({"smoke": {"kserve_model": " "}})
    ctx = context(platform, config=config, kube=lambda: pytest.fail("a skipped check must not reach the cluster"))
    serving = [c for c in all_checks() if c.name == "kserve-serves-a-model"]
    (result,) = run_checks(serving, {"kserve"}, ctx).results
    assert (result.status, result.message) == ("skipped", "smoke.kserve_model is empty: serving a model is not checked")


def test_junit_report_is_valid_and_counts_failures(platform):
    platform.apps["prometheus"].mode = "starting"
    report = run_checks(all_checks(), ALL - {"grafana"}, context(platform))
    root = ET.fromstring(to_junit(report))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "9",
        "1",
        "3",  # grafana, the object store and KServe are not in ALL - {"grafana"}
        "0",
    )
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {c.name for c in all_checks()}
    failure = cases["prometheus-ready"].find("failure")
    assert failure is not None and "503" in failure.get("message")
    assert cases["grafana-health"].find("skipped").get("message") == "component grafana is disabled in the config"
    assert cases["dex-login"].find("failure") is None
    assert all(float(case.get("time")) >= 0 for case in cases.values())
    assert float(cases["dex-login"].get("time")) > 0
    assert '"ok": false' in to_json(report)


# ------------------------------------------------------------------ each check failing on its own


BROKEN = [
    # (stand-in, mode, context overrides, failing checks, words the message must contain)
    (
        "kubeflow",
        "down",
        {},
        {"dashboard-redirects-to-dex", "dex-login"},
        "expected a redirect to the dex login, got 503",
    ),
    ("kubeflow", "no-auth", {}, {"dashboard-redirects-to-dex", "dex-login"}, "without asking for a login"),
    (
        "kubeflow",
        "ok",
        {"password": "wrong-password"},
        {"dex-login"},
        "dex rejected the login of user@example.com: Invalid Email Address and password",
    ),
    ("kubeflow", "broken-callback", {}, {"dex-login"}, "did not come back to the dashboard"),
    ("pipelines", "unhealthy", {}, {"pipelines-healthz"}, "/apis/v2beta1/healthz answered 503"),
    ("pipelines", "list-broken", {}, {"pipelines-list"}, 'answered 500: {"error": "Failed to list pipelines'),
    ("model_registry", "wrong-path", {}, {"model-registry-list"}, "registered_models?pageSize=10 answered 404"),
    ("grafana", "db-failing", {}, {"grafana-health"}, "/api/health answered 503"),
    ("prometheus", "starting", {}, {"prometheus-ready"}, "GET /-/ready answered 503: Service Unavailable"),
]


@pytest.mark.parametrize(
    "app,mode,overrides,failing,words", BROKEN, ids=[f"{b[0]}-{b[1]}-{sorted(b[3])[0]}" for b in BROKEN]
)
def test_each_broken_service_fails_only_its_checks(platform, app, mode, overrides, failing, words):
    platform.apps[app].mode = mode
    report = run_checks(all_checks(), ALL, context(platform, **overrides))
    failed = {r.name: r.message for r in report.results if r.status == "failed"}
    assert set(failed) == failing
    assert all(words in message for message in failed.values()), failed
    assert not report.ok


def test_dex_connector_chooser_is_handled(platform):
    platform.apps["kubeflow"].mode = "chooser"
    report = run_checks(all_checks(), {"kubeflow"}, context(platform))
    assert results_by_name(report)["dex-login"].status == "passed"


def test_unreachable_service_fails_with_the_connection_error(platform):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        urls = {**platform.urls(), "grafana": closed}
        report = run_checks(all_checks(), ALL, context(platform, endpoints=LocalEndpoints(urls)))
    grafana = results_by_name(report)["grafana-health"]
    assert grafana.status == "failed" and grafana.message.startswith("no answer: GET /api/health:")
    assert "refused" in grafana.message.lower()


def test_missing_forward_fails_the_check_not_the_run(platform):
    urls = {k: v for k, v in platform.urls().items() if k != "model_registry"}
    report = run_checks(all_checks(), ALL, context(platform, endpoints=LocalEndpoints(urls)))
    result = results_by_name(report)["model-registry-list"]
    assert result.status == "failed"
    assert result.message == "cannot forward to service kubeflow-user-example-com/model-registry-service"
    assert sum(r.status == "passed" for r in report.results) == 6


def test_failed_pipeline_run_reports_its_state(platform):
    platform.apps["pipelines"].mode = "run-fails"
    report = run_checks(all_checks(with_pipeline=True), ALL, context(platform))
    run = results_by_name(report)["pipelines-run"]
    assert (run.status, run.message) == ("failed", "run r1 ended FAILED: ImagePullBackOff")


def test_a_crashing_check_is_an_error_and_the_rest_still_run(platform):
    def boom(ctx):
        raise KeyError("bug")

    checks = all_checks()
    checks[0] = type(checks[0])("boom", "kubeflow", "A buggy check", boom, "kubeflow")
    report = run_checks(checks, ALL, context(platform))
    assert results_by_name(report)["boom"].status == "error"
    assert len([r for r in report.results if r.status == "passed"]) == 6
    assert ET.fromstring(to_junit(report)).find("testsuite").get("errors") == "1"
