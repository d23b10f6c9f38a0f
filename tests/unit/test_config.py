"""Config precedence (defaults < profile < file < env < flags) and one clear line for every bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from kfbootstrap.config import DEFAULT_NODE_IMAGE, load_config
from kfbootstrap.errors import USAGE, ConfigError
from tests.cli_helpers import run_cli


def write(tmp_path: Path, text: str, name: str = "kfbootstrap.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def effective(capsys, *args: str) -> dict:
    result = run_cli(capsys, "config", "show", *args)
    assert result.code == 0, result.text
    return yaml.safe_load(result.out)


# ---- precedence -------------------------------------------------------------------------


def test_defaults_without_any_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = effective(capsys)
    assert data["profile"] == "full"
    assert data["cluster"] == {
        "name": "kubeflow",
        "existing": False,
        "context": None,
        "node_image": DEFAULT_NODE_IMAGE,
        "workers": 2,
        "kind_config": None,
    }
    assert data["kubeflow"]["version"] == "26.03.1"
    assert data["forwards"]["address"] == "127.0.0.1"
    assert all(data["components"].values())


def test_file_in_working_directory_beats_defaults(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "cluster:\n  name: mine\n  workers: 3\n")
    data = effective(capsys)
    assert (data["cluster"]["name"], data["cluster"]["workers"]) == ("mine", 3)


def test_env_beats_file_and_flag_beats_env(tmp_path, monkeypatch):
    config_file = write(tmp_path, "cluster:\n  workers: 3\n  name: fromfile\n")
    env = {"KFBOOTSTRAP_CLUSTER__WORKERS": "4", "KFBOOTSTRAP_CLUSTER__NAME": "fromenv"}
    loaded = load_config(config_file, flags={"cluster.workers": 5}, env=env, cwd=tmp_path)
    assert loaded.config.cluster.workers == 5
    assert loaded.config.cluster.name == "fromenv"
    assert loaded.sources["cluster.workers"] == "flag --workers"
    assert loaded.sources["cluster.name"] == "environment KFBOOTSTRAP_CLUSTER__NAME"


def test_profile_preset_sits_below_the_users_settings(tmp_path):
    config_file = write(tmp_path, "profile: minimal\ncluster:\n  workers: 3\n")
    config = load_config(config_file, env={}, cwd=tmp_path).config
    assert config.cluster.workers == 3  # the file wins over the preset's 1
    assert config.components.grafana is False  # the preset still applies where the user said nothing
    assert config.timeouts.ready == 1200


def test_profile_from_flag_applies_its_preset(tmp_path):
    config = load_config(None, flags={"profile": "ci"}, env={}, cwd=tmp_path).config
    assert config.forwards.auto is False and config.timeouts.ready == 2700


def test_config_file_from_environment_variable(tmp_path):
    config_file = write(tmp_path, "cluster:\n  name: viaenv\n", name="other.yaml")
    config = load_config(None, env={"KFBOOTSTRAP_CONFIG": str(config_file)}, cwd=tmp_path).config
    assert config.cluster.name == "viaenv"


def test_context_implies_existing_cluster(tmp_path):
    config = load_config(None, flags={"cluster.context": "prod"}, env={}, cwd=tmp_path).config
    assert config.cluster.existing is True and config.kube_context == "prod"


def test_empty_file_is_all_defaults(tmp_path):
    assert load_config(write(tmp_path, ""), env={}, cwd=tmp_path).config.cluster.workers == 2


def test_schema_lists_every_section(capsys):
    result = run_cli(capsys, "config", "schema")
    schema = json.loads(result.out)
    assert result.code == 0
    from kfbootstrap.config import Config

    assert set(schema["properties"]) == set(Config.model_fields)
    assert {"profile", "cluster", "kubeflow", "components", "forwards", "timeouts"} <= set(schema["properties"])


# ---- bad input: one line naming the key, a hint, exit 2, never a traceback ----------------

BAD_FILES = [
    ("clusterr: {}\n", "config key `clusterr` (kfbootstrap.yaml line 1): unknown key", "valid keys: profile, cluster"),
    (
        "cluster:\n  nmae: x\n",
        "config key `cluster.nmae` (kfbootstrap.yaml line 2): unknown key",
        "valid keys under cluster: name",
    ),
    (
        "cluster:\n  workers: two\n",
        "`cluster.workers` (kfbootstrap.yaml line 2): Input should be a valid integer",
        "config schema",
    ),
    (
        "cluster:\n  workers: -1\n",
        "`cluster.workers` (kfbootstrap.yaml line 2): Input should be greater than or equal to 0",
        "",
    ),
    (
        "cluster:\n  workers: 11\n",
        "`cluster.workers` (kfbootstrap.yaml line 2): Input should be less than or equal to 10",
        "",
    ),
    ("cluster:\n  workers: 2.5\n", "`cluster.workers`", "fractional part"),
    (
        "cluster:\n  name: Bad_Name\n",
        "`cluster.name` (kfbootstrap.yaml line 2): has 'B': a cluster name is lower-case letters",
        "'Bad_Name'",
    ),
    ("cluster:\n  name: " + "a" * 41 + "\n", "`cluster.name`", "at most 40 characters"),
    ("cluster: 3\n", "`cluster` (kfbootstrap.yaml line 1): Input should be a valid dictionary", ""),
    ("cluster:\n  kind_config: /nope/kind.yaml\n", "`cluster.kind_config`", "does not exist"),
    (
        "kubeflow:\n  version: '1.2'\n",
        "`kubeflow.version` (kfbootstrap.yaml line 2): unknown release '1.2'",
        "known: 26.03.1, 26.03, v1.11.0, v1.10.2",
    ),
    ("kubeflow:\n  path: /definitely/not/here\n", "`kubeflow.path`", "path /definitely/not/here does not exist"),
    (
        "profile: huge\n",
        "`profile` (kfbootstrap.yaml line 1): Input should be 'full', 'minimal', 'ci' or 'pipelines'",
        "",
    ),
    (
        "forwards:\n  ports:\n    grafana: 70000\n",
        "`forwards.ports.grafana` (kfbootstrap.yaml line 3)",
        "less than or equal to 65535",
    ),
    ("forwards:\n  ports:\n    grafana: 0\n", "`forwards.ports.grafana`", "greater than or equal to 1"),
    (
        "forwards:\n  ports:\n    grafana: 8080\n",
        "`forwards.ports` (kfbootstrap.yaml line 2): port 8080 is used by both kubeflow and grafana",
        "",
    ),
    (
        "forwards:\n  address: everywhere\n",
        "`forwards.address` (kfbootstrap.yaml line 2)",
        "does not appear to be an IPv4 or IPv6 address",
    ),
    ("timeouts:\n  ready: 0\n", "`timeouts.ready` (kfbootstrap.yaml line 2): Input should be greater than 0", ""),
    ("timeouts:\n  apply: soon\n", "`timeouts.apply`", "valid integer"),
    (
        "components:\n  kserve: maybe\n",
        "`components.kserve` (kfbootstrap.yaml line 2): Input should be a valid boolean",
        "",
    ),
    ("components:\n  notebooks: true\n", "`components.notebooks`", "valid keys under components: kubeflow, kserve"),
    ("- cluster\n- name\n", "top level must be a mapping of keys, not list", "start the file with keys"),
    ("cluster:\n  name: [unclosed\n", "kfbootstrap.yaml line 3", "fix the YAML syntax"),
    ("cluster:\n\tname: tab\n", "kfbootstrap.yaml line 2", "fix the YAML syntax"),
    (
        "profile: ci\ncluster:\n  workers: 1\n  bogus: 1\n  other: 2\n",
        "`cluster.bogus` (kfbootstrap.yaml line 4): unknown key (and 1 more problem)",
        "",
    ),
    # YAML that parses but must not be taken: duplicate keys, recursive anchors, alias bombs
    (
        "cluster:\n  name: a\ncluster:\n  workers: 1\n",
        "kfbootstrap.yaml line 3: key `cluster` is given twice (first on line 1)",
        "write each key once",
    ),
    ("cluster:\n  name: a\n  name: b\n", "line 3: key `name` is given twice", ""),
    ("cluster: &c\n  more: *c\n", "an anchor contains an alias to itself (recursive YAML)", ""),
    ("cluster: &c\n  <<: *c\n", "recursive YAML", ""),
    (
        "a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),
        "aliases expand to more than 50000 nodes (a YAML alias bomb?)",
        "",
    ),
    (
        "metallb:\n  address_pool: 10.0.0.1-fd00::1\n",
        "`metallb.address_pool` (kfbootstrap.yaml line 2): mixes IPv4 and IPv6",
        "",
    ),
    ("metallb:\n  address_pool: fd00::9-10.0.0.1\n", "mixes IPv6 and IPv4", ""),
]


@pytest.mark.parametrize("text, message, hint", BAD_FILES, ids=[f"file{i}" for i in range(len(BAD_FILES))])
def test_bad_config_file_is_one_clear_line(tmp_path, monkeypatch, capsys, text, message, hint):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    result = run_cli(capsys, "config", "show")
    assert result.code == USAGE
    assert result.err.startswith("error: ")
    assert message in result.err
    assert hint in result.err
    assert "Traceback" not in result.text
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 2  # error line + hint line


BAD_ENV_OR_FLAGS = [
    ({"KFBOOTSTRAP_CLUSTER__WORKERS": "many"}, ["config", "show"], "(environment KFBOOTSTRAP_CLUSTER__WORKERS)"),
    ({"KFBOOTSTRAP_BOGUS": "1"}, ["config", "show"], "config key `bogus` (environment KFBOOTSTRAP_BOGUS): unknown key"),
    (
        {"KFBOOTSTRAP_CLUSTR__NAME": "x"},
        ["config", "show"],
        "config key `clustr` (environment KFBOOTSTRAP_CLUSTR__NAME)",
    ),
    ({}, ["up", "--dry-run", "--workers", "-3"], "config key `cluster.workers` (flag --workers)"),
    ({}, ["up", "--dry-run", "--profile", "tiny"], "config key `profile` (flag --profile)"),
    (
        {},
        ["up", "--dry-run", "--kubeflow-version", "v0.1"],
        "config key `kubeflow.version` (flag --kubeflow-version): unknown release",
    ),
    ({}, ["up", "--dry-run", "--name", "UPPER"], "config key `cluster.name` (flag --name)"),
    ({}, ["config", "show", "--config", "missing.yaml"], "config file missing.yaml not found"),
]


@pytest.mark.parametrize(
    "env, argv, message", BAD_ENV_OR_FLAGS, ids=[f"layer{i}" for i in range(len(BAD_ENV_OR_FLAGS))]
)
def test_bad_env_or_flag_names_its_source(tmp_path, monkeypatch, capsys, env, argv, message):
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli(capsys, *argv)
    assert result.code == USAGE, result.text
    assert message in result.err
    assert "hint: " in result.err
    assert "Traceback" not in result.text


def test_bad_flag_type_is_a_usage_error_without_traceback(capsys):
    result = run_cli(capsys, "up", "--dry-run", "--workers", "two")
    assert result.code == USAGE
    assert "--workers" in result.err and "Traceback" not in result.text


def test_config_error_is_raised_before_any_side_effect(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "cluster:\n  workers: x\n"), env={}, cwd=tmp_path)


def test_relative_paths_in_a_file_are_read_from_the_files_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "my-kind.yaml").write_text("kind: Cluster\n")
    config_file = write(project, "cluster:\n  kind_config: my-kind.yaml\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(config_file, env={}, cwd=elsewhere).config
    assert config.cluster.kind_config == project / "my-kind.yaml"


def test_tilde_in_env_paths_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "manifests").mkdir()
    config = load_config(None, env={"KFBOOTSTRAP_KUBEFLOW__PATH": "~/manifests"}, cwd=tmp_path).config
    assert config.kubeflow.path == tmp_path / "manifests"


def test_anchors_used_as_plain_copies_still_work(tmp_path):
    path = write(
        tmp_path,
        """\
        charts:
          grafana: &chart
            version: 10.5.15
          prometheus: *chart
        """,
    )
    assert load_config(path, env={}, cwd=tmp_path).config.charts.prometheus.version == "10.5.15"


def test_alias_bomb_is_refused_fast(tmp_path):
    import time

    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "\n".join(lines) + "\ncluster: {name: *a8}\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="alias bomb"):
        load_config(path, env={}, cwd=tmp_path)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_config_that_is_not_a_regular_file_says_what_it_is(kind, tmp_path, monkeypatch, capsys):
    import os

    target = tmp_path / "cfg"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    result = run_cli(capsys, "config", "show", "--config", target)
    assert result.code == USAGE
    assert f"error: config file {target} is a {kind}, not a file" in result.err
    assert "not found" not in result.err


def test_the_schema_lists_the_allowed_values_the_hint_promises():
    """`config schema` is what the error hint sends people to: restricted keys say what they allow."""
    from kfbootstrap.config import config_schema
    from kfbootstrap.releases import RELEASES

    defs = config_schema()["$defs"]
    assert defs["ClusterConfig"]["properties"]["name"]["pattern"] == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    assert defs["KubeflowConfig"]["properties"]["version"]["enum"] == list(RELEASES)
    assert defs["KubeflowConfig"]["properties"]["password"]["anyOf"][0]["pattern"]
    assert {"format": "ipv4"} in defs["ForwardsConfig"]["properties"]["address"]["anyOf"]
    assert defs["ClusterConfig"]["properties"]["workers"]["maximum"] == 10
    for release in RELEASES:  # every value the schema allows is accepted
        load_config(None, {"kubeflow.version": release}, env={})
