"""Does a node's containerd read our hosts.toml? Asked of `containerd config dump`, and what `up`'s cache step does with the answer."""

from __future__ import annotations

import pytest

from kfbootstrap.cache import nodes
from kfbootstrap.cache.proxies import Outcome
from kfbootstrap.cache.registries import Mirror
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.pipeline import build_steps
from kfbootstrap.steps import cache as cache_step
from kfbootstrap.steps.cache import CacheStep
from kfbootstrap.tools.docker import Containers, ContainerState
from tests.fakes import FakeRunner

# containerd 2.3.1 (kind v0.32's node), as it really prints it: config_path '' even though its
# CRI reads the built-in default list (applied when the plugin starts, never shown in the dump).
DUMP_2_3 = """\
version = 4
root = '/var/lib/containerd'
state = '/run/containerd'
imports = ['/etc/containerd/config.toml']

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    discard_unpacked_layers = true

    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ''

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
"""

# containerd 2.1.4 (kind v0.30's node): no default, nothing set.
DUMP_2_1 = DUMP_2_3.replace("version = 4", "version = 3")
VERSION_2_3 = "containerd github.com/containerd/containerd/v2 v2.3.1 \n"
VERSION_2_1 = "containerd github.com/containerd/containerd/v2 v2.1.4 \n"
VERSION_1_7 = "containerd github.com/containerd/containerd v1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n"


def _path(dump: str, config_path: str) -> str:
    return dump.replace("config_path = ''", f"config_path = '{config_path}'")


# containerd 1.7 (config version 2), as kind's older node images print it.
DUMP_1_7 = """\
version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "{config_path}"

      [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
"""


@pytest.mark.parametrize(
    "dump, version, reads",
    [
        (DUMP_2_3, VERSION_2_3, True),
        (DUMP_2_1, VERSION_2_1, False),
        (_path(DUMP_2_1, "/etc/containerd/certs.d"), VERSION_2_1, True),
        (DUMP_2_3.replace("      config_path = ''\n", ""), VERSION_2_3, True),
        (
            DUMP_2_3.replace(
                "      config_path = ''\n",
                "      [plugins.'io.containerd.cri.v1.images'.registry.mirrors.'docker.io']\n        endpoint = ['https://m.example']\n",
            ),
            VERSION_2_3,
            False,
        ),
        (DUMP_2_3, "", False),
        (_path(DUMP_2_3, "/etc/docker/certs.d"), VERSION_2_3, False),
        (_path(DUMP_2_3, "/etc/docker/certs.d:/etc/containerd/certs.d/"), VERSION_2_3, True),
        (DUMP_1_7.format(config_path=""), VERSION_1_7, False),
        (DUMP_1_7.format(config_path="/etc/containerd/certs.d"), VERSION_1_7, True),
        (DUMP_1_7.format(config_path="/etc/containerd/certs.d.old"), VERSION_1_7, False),
    ],
    ids=[
        "2.3-built-in-default",
        "2.1-no-default",
        "2.1-patched-by-the-kind-config",
        "2.3-missing",
        "2.3-mirrors-mean-no-default",
        "version-unknown-assumes-no-default",
        "docker-dir-only",
        "second-with-slash",
        "1.7-empty",
        "1.7-set",
        "1.7-other-dir",
    ],
)
def test_reads_certs_d_from_the_dump_and_the_version(dump, version, reads):
    assert nodes.reads_certs_d(dump, version) is reads


@pytest.mark.parametrize(
    "dump, why",
    [
        ("containerd: command not found\n", "not TOML"),
        ("root = '/var/lib/containerd'\n", "version None, not 2 or later"),
        (DUMP_2_3.replace("version = 4", "version = 2"), "no io.containerd.grpc.v1.cri plugin"),
        ("version = 1\n", "version 1, not 2 or later"),
    ],
)
def test_a_dump_we_cannot_read_is_an_error_not_an_answer(dump, why):
    with pytest.raises(ValueError, match=why):
        nodes.reads_certs_d(dump)


NODES = ["kubeflow-control-plane", "kubeflow-worker", "kubeflow-worker2"]
MIRROR = Mirror("docker.io", "https://registry-1.docker.io")


def _cluster(dumps: dict[str, str | None]) -> FakeRunner:
    """A Kind cluster whose nodes answer `containerd config dump` with these texts (None: the exec fails)."""
    runner = FakeRunner().on("kind", "get", "nodes", stdout="\n".join(dumps))
    for node, dump in dumps.items():
        if dump is None:
            runner.on(
                "docker", "exec", node, "containerd", "config", "dump", stderr="OCI runtime exec failed", exit_code=126
            )
        else:
            runner.on("docker", "exec", node, "containerd", "config", "dump", stdout=dump)
            version = VERSION_2_1 if "version = 3" in dump else VERSION_2_3
            runner.on("docker", "exec", node, "containerd", "--version", stdout=version)
    return runner


@pytest.fixture
def started(monkeypatch) -> list[str]:
    """Replaces starting the caches (their own tests cover it): records that it happened."""
    calls: list[str] = []

    def ensure(config, containers, runner, network):
        calls.append(network)
        return [Outcome(MIRROR, "reused")], {}

    monkeypatch.setattr(cache_step, "ensure_what_can_run", ensure)
    return calls


def _run(runner: FakeRunner) -> str | None:
    config = Config.model_validate({"cache": {"registries": {"docker.io": "https://registry-1.docker.io"}}})
    return CacheStep().run(RunContext(config=config, runner=runner))


def _written_to(runner: FakeRunner) -> list[str]:
    return [argv[3] for argv in runner.commands("docker") if argv[1:3] == ["exec", "-i"]]


def test_nodes_of_containerd_2_3_read_certs_d_by_default_and_get_no_warning(started, capsys):
    runner = _cluster(dict.fromkeys(NODES, DUMP_2_3))
    note = _run(runner)
    assert "warning" not in capsys.readouterr().err
    assert started and _written_to(runner) == NODES
    assert note == "caches 1 reused; 3 nodes pointed at them"


def test_a_cluster_none_of_whose_nodes_read_certs_d_gets_one_line_and_no_cache(started, capsys):
    runner = _cluster(dict.fromkeys(NODES, DUMP_2_1))
    note = _run(runner)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1
    assert f"containerd on {', '.join(NODES)} does not read /etc/containerd/certs.d" in lines[0]
    assert "this cluster's pulls skip the cache" in lines[0]
    assert "kfbootstrap up" in lines[0] and "containerdConfigPatches" in lines[0]
    assert not started and not _written_to(runner)  # no cache started, no hosts.toml written
    assert note == "no cache: no node reads /etc/containerd/certs.d"


def test_only_the_node_that_ignores_certs_d_is_named_and_skipped(started, capsys):
    runner = _cluster({NODES[0]: DUMP_2_3, NODES[1]: DUMP_2_1, NODES[2]: DUMP_2_3})
    note = _run(runner)
    err = capsys.readouterr().err
    assert "containerd on kubeflow-worker does not read /etc/containerd/certs.d" in err
    assert "kubeflow-control-plane" not in err and "kubeflow-worker2" not in err
    assert _written_to(runner) == [NODES[0], NODES[2]]
    assert note == "caches 1 reused; 2 nodes pointed at them, not the 1 that ignores /etc/containerd/certs.d"


def test_a_failing_dump_says_cannot_tell_and_never_claims_the_node_ignores_certs_d(started, capsys):
    runner = _cluster({NODES[0]: None, NODES[1]: DUMP_2_3, NODES[2]: "garbage ["})
    _run(runner)
    err = capsys.readouterr().err
    assert "cannot tell whether containerd on kubeflow-control-plane reads /etc/containerd/certs.d" in err
    assert "OCI runtime exec failed" in err
    assert "cannot tell whether containerd on kubeflow-worker2 reads" in err and "not TOML" in err
    assert "does not read" not in err and "skip the cache" not in err
    assert started and _written_to(runner) == NODES  # written anyway: used if the node reads it


def test_a_node_that_ignores_certs_d_is_never_done(monkeypatch):
    """Not even with hosts.toml left there by an earlier run: each `up` says so again."""
    runner = _cluster({NODES[0]: DUMP_2_1})
    config = Config.model_validate({"cache": {"registries": {"docker.io": "https://registry-1.docker.io"}}})
    ctx = RunContext(config=config, runner=runner)
    running = ContainerState(MIRROR.container, "registry:3", True, "running", {}, {}, ["kind"], [])
    monkeypatch.setattr(Containers, "inspect", lambda self, name: running)
    monkeypatch.setattr(cache_step, "wanted_for", lambda config, mirror, runner: None)
    monkeypatch.setattr(cache_step.proxies, "differences", lambda state, wanted: [])
    monkeypatch.setattr(nodes, "configured", lambda containers, node, mirrors: True)
    assert not CacheStep().is_done(ctx)
    runner.on("docker", "exec", NODES[0], "containerd", "config", "dump", stdout=DUMP_2_3)
    runner.on("docker", "exec", NODES[0], "containerd", "--version", stdout=VERSION_2_3)
    assert CacheStep().is_done(ctx)


def test_a_context_cluster_never_gets_the_cache_step():
    """`up --context` installs onto a cluster kfbootstrap did not create: its nodes are left alone."""
    names = [step.name for step in build_steps(Config.model_validate({"cluster": {"context": "prod"}}))]
    assert "cache" not in names
    assert "cache" in [step.name for step in build_steps(Config())]
