"""Where the Kubeflow password comes from, and how the render is kept from restoring the default."""

from __future__ import annotations

import bcrypt
import pytest

from kfbootstrap.access import passwords
from kfbootstrap.config import load_config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import USAGE, ConfigError, UsageError
from kfbootstrap.pipeline import build_steps, run_steps
from tests.cli_helpers import run_cli


def config(tmp_path, **kubeflow):
    import yaml

    path = tmp_path / "kfbootstrap.yaml"
    path.write_text(yaml.safe_dump({"kubeflow": kubeflow}) if kubeflow else "")
    return load_config(path, env={}, cwd=tmp_path).config


class NoCommands:
    """A runner that fails the test if any step got as far as running a program."""

    def run(self, argv, **kwargs):
        raise AssertionError(f"{argv[0]} ran before the config was refused")

    def which(self, program):
        raise AssertionError(f"looked for {program} before the config was refused")


class NoStore:
    """An adapter stand-in for the one question `choose` asks when no variable is named: is one kept?"""

    def __init__(self, kept: str | None = None):
        self.kept = kept

    def get(self, resource, name, namespace=None):
        import base64

        if resource.kind == "Secret" and name == passwords.LOGIN_SECRET and self.kept:
            return {"data": {"password": base64.b64encode(self.kept.encode()).decode()}}
        return None if resource.kind == "Secret" else {"metadata": {"name": name}}

    def items(self, resource, namespace=None, **selectors):
        return []


def test_the_named_variable_wins_then_the_kept_password_then_a_random_one(tmp_path):
    named = config(tmp_path, password="KF_PW")
    assert passwords.choose(named, NoStore("kept-password"), env={"KF_PW": "from-the-env"}) == passwords.Chosen(
        "from-the-env", "from $KF_PW"
    )
    plain = config(tmp_path)
    assert passwords.choose(plain, NoStore("kept-password"), env={}) == passwords.Chosen(
        "kept-password", "kept from the last run"
    )
    first, second = (passwords.choose(plain, NoStore(), env={}) for _ in range(2))
    assert first.source == "random" and len(first.password) == 24 and first.password != second.password


def test_a_named_but_unset_variable_is_a_config_error_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("KF_PW", raising=False)
    named = config(tmp_path, password="KF_PW")
    with pytest.raises(ConfigError, match="kubeflow.password names the environment variable KF_PW, which is not set"):
        run_steps(build_steps(named), RunContext(config=named, runner=NoCommands()))


def test_a_short_password_is_refused(tmp_path):
    with pytest.raises(UsageError, match="shorter than 8"):
        passwords.from_environment(config(tmp_path, password="KF_PW"), env={"KF_PW": "short"})


@pytest.mark.parametrize(
    "kubeflow, message",
    [
        ({"password": "NOT A VAR"}, "String should match pattern"),
        ({"password": "KF_PW", "keep_default_password": True}, "exclude each other"),
    ],
)
def test_bad_password_settings(kubeflow, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, **kubeflow)


def test_the_password_step_runs_before_kubeflow_unless_the_default_is_kept(tmp_path):
    names = [s.name for s in build_steps(config(tmp_path))]
    assert names.index("dex_password") == names.index("kubeflow") - 1
    assert "dex_password" not in [s.name for s in build_steps(config(tmp_path, keep_default_password=True))]


def test_render_gets_our_hash_and_stays_untouched():
    render = [
        {
            "kind": "Secret",
            "metadata": {"name": "dex-passwords", "namespace": "auth"},
            "stringData": {"DEX_USER_PASSWORD": "$2y$12$default"},
            "data": {"DEX_USER_PASSWORD": "b2xk"},
        },
        {"kind": "Secret", "metadata": {"name": "other", "namespace": "auth"}, "stringData": {"x": "y"}},
    ]
    ours = passwords.hash_password("s3cret-password", rounds=4)
    adjusted = passwords.with_current_hash(render, ours)
    assert adjusted[0]["stringData"] == {"DEX_USER_PASSWORD": ours} and adjusted[0]["data"] == {}
    assert adjusted[1] is render[1]
    assert render[0]["stringData"]["DEX_USER_PASSWORD"] == "$2y$12$default"  # the cached render is not changed
    assert render[0]["data"] == {"DEX_USER_PASSWORD": "b2xk"}


def test_hash_is_bcrypt_that_dex_and_upstream_accept():
    hashed = passwords.hash_password("s3cret-password", rounds=4)
    assert hashed.startswith("$2b$04$")
    assert bcrypt.checkpw(b"s3cret-password", hashed.encode())
    assert passwords.matches("s3cret-password", hashed) and not passwords.matches("other", hashed)
    assert not passwords.matches("x", "not-a-hash") and not passwords.matches("x", None)


def test_passwd_from_an_unset_variable_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("NOPE_PW", raising=False)
    result = run_cli(capsys, "passwd", "--from-env", "NOPE_PW")
    assert result.code == USAGE
    assert "error: --from-env names the environment variable NOPE_PW, which is not set" in result.err


def test_passwd_without_a_terminal_asks_for_from_env(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    result = run_cli(capsys, "passwd")
    assert result.code == USAGE
    assert "no terminal to prompt" in result.err and "--from-env" in result.err


def test_grafana_admin_password_variable_unset_is_a_config_error(monkeypatch):
    from kfbootstrap.steps.monitoring import GrafanaStep

    monkeypatch.delenv("UNSET_GRAFANA_PW", raising=False)
    config = load_config(None, {"charts.grafana.admin_password": "UNSET_GRAFANA_PW"}, env={}).config
    with pytest.raises(ConfigError, match="UNSET_GRAFANA_PW, which is not set"):
        run_steps([GrafanaStep()], RunContext(config=config, runner=NoCommands()))
