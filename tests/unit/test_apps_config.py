"""kubeflow.apps in the config and on the command line, the pipelines profile, and what follows the choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfbootstrap.apps.fit import FITS, NO, TIGHT, fit
from kfbootstrap.apps.measure import Totals
from kfbootstrap.apps.plan import chosen_parts, has_part, left_behind, part_selector
from kfbootstrap.config import load_config, profile_config
from kfbootstrap.errors import ConfigError
from tests.cli_helpers import run_cli
from tests.fakes import FakeHost
from tests.shared_fixtures import fixture_path

GIB = 2**30


def _config(**flags):
    return load_config(flags={"kubeflow.version": "26.03.1", **flags}, env={}, cwd=Path("/nonexistent")).config


@pytest.mark.parametrize("given", ["pipelines, kserve", ["kserve", "pipelines"]])
def test_apps_from_a_flag_string_or_a_list_keep_the_catalog_order(given):
    assert _config(**{"kubeflow.apps": given}).kubeflow.apps == (
        ["pipelines", "kserve"] if isinstance(given, str) else ["kserve", "pipelines"]
    )


def test_apps_from_the_environment():
    config = load_config(
        env={"KFBOOTSTRAP_KUBEFLOW__APPS": "trainer,spark", "KFBOOTSTRAP_KUBEFLOW__VERSION": "26.03.1"},
        cwd=Path("/nonexistent"),
    ).config
    assert config.kubeflow.apps == ["trainer", "spark"]


@pytest.mark.parametrize(
    "flags,message",
    [
        ({"kubeflow.apps": "pipelines,jupyter"}, "unknown application(s) jupyter; 26.03.1 has: dashboard, pipelines"),
        ({"kubeflow.apps": " , "}, "unknown application(s) (none given)"),
        ({"kubeflow.apps": "pipelines", "kubeflow.version": "26.03"}, "a parts table for (26.03.1); 26.03 has none"),
    ],
)
def test_bad_app_choices_name_the_key_and_the_choices(flags, message):
    with pytest.raises(ConfigError) as caught:
        _config(**flags)
    assert "config key `kubeflow.apps`" in caught.value.message and message in caught.value.message


def test_the_pipelines_profile_installs_pipelines_and_what_it_needs_only():
    config = profile_config("pipelines", "26.03.1")
    assert config.kubeflow.apps == ["pipelines"] and config.cluster.workers == 1
    assert config.components.enabled() == ["kubeflow", "object_store"]  # no KServe, registry, add-ons
    assert "knative" not in chosen_parts(config) and has_part(config, "dex") and not has_part(config, "hub")


def test_steps_that_install_apps_follow_the_choice():
    config = _config(**{"kubeflow.apps": "trainer"})
    assert not config.components.kserve and not config.components.model_registry and not config.components.object_store
    assert not has_part(config, "istio") and has_part(config, None)
    everything = _config()
    assert everything.components.kserve and has_part(everything, "hub") and has_part(everything, "knative")


def test_dropped_parts_are_what_was_installed_or_kept_and_is_no_longer_chosen():
    assert left_behind(["istio", "pipelines", "dex"], ["katib"], ["istio", "kserve"]) == ["dex", "katib", "pipelines"]
    assert left_behind([], [], ["istio"]) == []
    assert part_selector(["pipelines", "dex"]).endswith("kfbootstrap.dev/part in (dex,pipelines)")


@pytest.mark.parametrize(
    "memory_gib,cpus,verdict", [(32, 8, FITS), (8, 8, TIGHT), (6, 8, NO), (32, 1, TIGHT), (None, 8, TIGHT)]
)
def test_fit_compares_every_request_with_the_machine(memory_gib, cpus, verdict):
    totals = Totals(cpu=1.5, memory=6.5 * GIB)
    assert fit(totals, 2, memory_gib, cpus).verdict == verdict


def test_dry_run_shows_the_choice_its_requests_and_which_profile_fits(monkeypatch, tmp_path, capsys):
    render = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    monkeypatch.chdir(tmp_path)

    def no_runner():
        raise AssertionError("a pre-rendered file needs no command")

    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", no_runner)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost(memory_gib=8.0, cpus=4))
    result = run_cli(
        capsys,
        "up",
        "--dry-run",
        "--kubeflow-version",
        "26.03.1",
        "--manifests",
        str(render),
        "--apps",
        "pipelines,kserve",
    )
    assert result.code == 0, result.text
    out = result.out
    assert "only pipelines, kserve and what they need" in out
    assert "  knative " in out and "  katib" not in out
    assert "total: 515 objects, 38 images, 41 pods" in out
    assert "repaired: Certificate/kubeflow/serving-cert: issuer pvcviewer-selfsigned-issuer -> selfsigned-issuer" in out
    assert "On this machine" in out and "does not fit: " in out and "8.0 GiB and 4 CPUs available" in out
    assert "Kubeflow applications: pipelines, kserve; sizing: upstream" in out and "sized for a laptop" not in out
    # The pipelines profile is measured as it installs: with laptop sizing (4.3 GiB; 6.4 GiB with upstream's).
    assert "  this choice with --sizing laptop: fits: 5.9 GiB" in out
    assert "  profile pipelines (laptop sizing): fits: 4.3 GiB" in out
    assert "  profile full (upstream sizing): does not fit" in out


def test_dry_run_of_a_release_not_cloned_yet_fetches_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFBOOTSTRAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: pytest.fail("no command in a dry run"))
    result = run_cli(capsys, "up", "--dry-run", "--kubeflow-version", "26.03.1", "--profile", "pipelines")
    assert result.code == 0, result.text
    assert "not measured" in result.out and "is not cloned yet" in result.out


@pytest.mark.parametrize("args", [["--apps", "pipelines"], ["--profile", "pipelines"]])
def test_choosing_apps_of_a_release_without_a_parts_table_names_the_releases_that_have_one(
    monkeypatch, tmp_path, capsys, args
):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "up", "--dry-run", "--kubeflow-version", "v1.10.2", *args)
    assert result.code == 2 and "Traceback" not in result.text
    error, hint = result.err.strip().splitlines()
    assert (
        error.startswith("error: config key `kubeflow.apps`") and "parts table for (26.03.1); v1.10.2 has none" in error
    )
    assert hint == (
        "hint: use --kubeflow-version 26.03.1, or leave kubeflow.apps (and the pipelines profile, which sets "
        "it) out to install everything of that release"
    )


def test_an_unknown_app_on_the_command_line_is_a_usage_error(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "up", "--dry-run", "--kubeflow-version", "26.03.1", "--apps", "pipelines,jupyter")
    assert result.code == 2 and "error: config key `kubeflow.apps` (flag --apps)" in result.err
    assert "hint:" in result.err and "Traceback" not in result.text


def test_smoke_skips_checks_of_parts_not_chosen():
    from kfbootstrap.smoke.plan import all_checks
    from kfbootstrap.smoke.run import run_checks

    from types import SimpleNamespace

    config = _config(**{"kubeflow.apps": "trainer"})
    stub = SimpleNamespace(api_problem="no cluster in this test")  # what is chosen would not run, but fail visibly
    report = run_checks(
        all_checks(),
        set(config.components.enabled()),
        ctx=stub,  # type: ignore[arg-type]
        chosen=lambda part: has_part(config, part),
    )
    kubeflow = [r for r in report.results if r.component == "kubeflow"]
    assert kubeflow and all(r.status == "skipped" and "not among the chosen apps" in r.message for r in kubeflow)


# The pipelines profile's laptop sizing asks 4.27 GiB with Kind's own pods (6.38 GiB with upstream's): an 8 GB
# machine fits it (under 75% of it), a 5 GB one is tight; with upstream's sizing 8 GB is tight.
@pytest.mark.parametrize(
    "profile,sizing,memory,status",
    [
        ("full", None, 8, "fail"),
        ("pipelines", None, 8, "ok"),
        ("pipelines", None, 5, "warn"),
        ("pipelines", "upstream", 8, "warn"),
        ("pipelines", "upstream", 16, "ok"),
    ],
)
def test_preflight_judges_the_measured_requests_against_dockers_memory(profile, sizing, memory, status):
    from kfbootstrap.context import RunContext
    from kfbootstrap.preflight.app_requests import requests_check
    from kfbootstrap.preflight.checks import collect_findings
    from kfbootstrap.steps.preflight import PreflightStep
    from tests.fakes import healthy_runner

    config = _config(
        profile=profile,
        **{"kubeflow.path": fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")},
        **({"kubeflow.sizing": sizing} if sizing else {}),
    )
    runner = healthy_runner().on(
        "docker",
        "info",
        stdout=f'{{"ServerVersion": "28", "MemTotal": {memory * GIB}, "NCPU": 4, "OperatingSystem": "Docker Desktop"}}',
    )
    ctx = RunContext(config=config, runner=runner, host=FakeHost())
    found = {f.check: f for f in collect_findings(config, runner, ctx.host, requests=requests_check(ctx))}
    requests = found["requests"]
    assert (
        requests.status == status
        and f"{memory:.1f} GiB and 4 CPUs available on the Docker Desktop VM" in requests.detail
    )
    assert "memory" not in found  # the measured requests replace the profile's fixed minimum
    if status == "fail":
        assert "raise Docker Desktop's Memory" in requests.fix and "--profile pipelines" in requests.fix
        assert "`--sizing laptop`" in requests.fix
        with pytest.raises(Exception, match="requests: does not fit"):
            PreflightStep().run(ctx)
