"""The defects a hostile sweep found (issue 23, "The sweep's defects"), each reproduced as the sweep did it.

Everything here talks only to 127.0.0.1: a tiny HTTP server that answers 200 with a web page where an API
server should be, the silent server of tests/conftest.py, and a Docker host at a closed port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

from kfbootstrap.errors import FAILED, USAGE, KfbError, UsageError

PAGE = b"<html><body><h1>It works!</h1></body></html>\n"
# An API request's bound for these runs: every command must fail well within BOUND seconds.
API_TIMEOUT = 2
BOUND = 45.0


def kfb(
    argv: list[str], tmp_path: Path, *, env: dict[str, str] | None = None, timeout: float = BOUND + 30, **popen
) -> subprocess.CompletedProcess:
    """kfbootstrap in its own process, as a user runs it (stdin not a terminal)."""
    full_env = {
        **os.environ,
        "KFBOOTSTRAP_STATE_DIR": str(tmp_path / "state"),
        "KFBOOTSTRAP_CACHE_DIR": str(tmp_path / "cache"),
        **(env or {}),
    }
    popen.setdefault("stdin", subprocess.DEVNULL)
    if "stdout" not in popen:
        popen["capture_output"] = True
    return subprocess.run(
        [sys.executable, "-m", "kfbootstrap", *argv],
        env=full_env,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        **popen,
    )


def error_line(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if line.startswith("error: ")), "")


def hint_line(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if line.startswith("hint: ")), "")


def write_kubeconfig(path: Path, server: str, name: str) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: someone
  user: {{token: not-a-real-token}}
contexts:
- name: {name}
  context: {{cluster: {name}, user: someone}}
current-context: {name}
""")
    return path


# ------------------------------------------------------------------ 1. a server that answers, but not JSON


@pytest.fixture(scope="module")
def web_page_server():
    """Where the API server should be, a web server answers every request 200 with an HTML page.
    Yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def _page(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _page  # noqa: N815 (http.server API)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "argv, request_named",
    [
        (["status"], "cannot list"),
        (["status", "--json"], "cannot list"),
        (["creds", "kubeflow"], "cannot get"),
        (["creds", "grafana"], "cannot get Secret monitoring/grafana"),
        (["passwd", "--from-env", "NEW_PW"], "cannot get Deployment auth/dex"),
        (["expose", "grafana"], "cannot get Service monitoring/"),
        (["expose", "--all", "--background"], "cannot get Service"),
        (["down", "--keep-cluster"], "cannot get /apis"),
    ],
    ids=lambda v: "-".join(a.strip("-") for a in v) if isinstance(v, list) else None,
)
def test_an_api_server_answering_a_web_page_is_exit_1_naming_the_request(
    argv, request_named, web_page_server, tmp_path
):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{web_page_server}", "webpage")
    env = {"KUBECONFIG": str(kubeconfig), "KFBOOTSTRAP_TIMEOUTS__API": str(API_TIMEOUT), "NEW_PW": "long-enough-pw"}
    proc = kfb([*argv, "--context", "webpage"], tmp_path, env=env)
    assert proc.returncode == FAILED, proc.stderr
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
    error = error_line(proc.stderr)
    assert error.startswith(f"error: {request_named}"), proc.stderr
    assert "(kube context webpage)" in error and f"127.0.0.1:{web_page_server}" in error
    assert "not JSON" in error and "It works!" in error  # what answered instead
    assert "get --raw /version" in hint_line(proc.stderr)


def test_diagnose_against_a_web_page_still_writes_its_bundle(web_page_server, tmp_path):
    """README: diagnose writes what it can and says what it could not, exit 0."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{web_page_server}", "webpage")
    (tmp_path / "bin").mkdir()
    env = {
        "KUBECONFIG": str(kubeconfig),
        "KFBOOTSTRAP_TIMEOUTS__API": str(API_TIMEOUT),
        "PATH": str(tmp_path / "bin"),  # no kind, helm, docker: only the API server is asked
    }
    proc = kfb(["diagnose", "--context", "webpage", "--out", "out", "--json"], tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
    warning = next(line for line in proc.stderr.splitlines() if "cluster not reachable" in line)
    assert "cannot get /version (kube context webpage)" in warning and "not JSON" in warning, proc.stderr
    bundle = tmp_path / json.loads(proc.stdout)["bundle"]
    with tarfile.open(bundle) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
    assert "summary.txt" in names and "config.yaml" in names


def test_a_watch_that_streams_no_json_is_a_known_failure(web_page_server):
    from kfbootstrap.kube.api import PODS
    from kfbootstrap.kube.client import connect
    from kfbootstrap.kube.errors import KubeError
    from kfbootstrap.kube.rest import Timeouts

    kubeconfig = write_kubeconfig(Path(os.environ["KFBOOTSTRAP_STATE_DIR"]) / "kc", "http://x", "webpage")
    kubeconfig.write_text(kubeconfig.read_text().replace("http://x", f"http://127.0.0.1:{web_page_server}"))
    kube = connect("webpage", Timeouts(2, 2), str(kubeconfig))
    started = time.monotonic()
    with pytest.raises(KubeError, match=r"cannot list pods in namespace ns .*not JSON"):
        list(kube.watch(PODS, "ns", deadline=started + 60))
    with pytest.raises(KubeError, match=r"cannot watch pods in namespace ns .*not JSON"):
        list(kube.watch(PODS, "ns", since="1", deadline=started + 60))
    assert time.monotonic() - started < 10, "a web page is not retried until the deadline: it will not change"


# ------------------------------------------------------------------ 2. every external program has a deadline


def test_a_program_run_without_a_timeout_still_gets_a_deadline(monkeypatch):
    from kfbootstrap.tools import runner

    monkeypatch.setattr(runner, "DEFAULT_TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(KfbError, match=r"`sleep 30` did not finish within 1s"):
        runner.ShRunner().run(["sleep", "30"])
    assert time.monotonic() - started < 10


def hung_helm(directory: Path) -> Path:
    """A helm that tells its version and then hangs, as helm does against an API server that never
    answers (client-go has no request timeout of its own)."""
    directory.mkdir(exist_ok=True)
    helm = directory / "helm"
    helm.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "if sys.argv[1:2] == ['version']:\n"
        "    print('v3.19.0+g3d8990f')\n"
        "    sys.exit(0)\n"
        "time.sleep(3600)\n"
    )
    helm.chmod(0o755)
    return helm


def test_a_helm_read_is_bounded_by_the_api_timeout(tmp_path):
    from kfbootstrap.tools.helm import Helm
    from kfbootstrap.tools.runner import ShRunner

    helm = Helm(ShRunner(), str(hung_helm(tmp_path / "bin")), context="silent", api_timeout=1)
    started = time.monotonic()
    with pytest.raises(KfbError, match=r"`\S+helm list --max` did not finish within 17s"):
        helm.list_all()
    assert time.monotonic() - started < 30


def test_diagnose_against_a_silent_server_does_not_wait_for_helm(silent_server, tmp_path):
    """The sweep saw diagnose hang in `helm list` far past timeouts.api."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{silent_server}", "silent")
    hung_helm(tmp_path / "bin")
    env = {"KUBECONFIG": str(kubeconfig), "KFBOOTSTRAP_TIMEOUTS__API": str(API_TIMEOUT), "PATH": str(tmp_path / "bin")}
    started = time.monotonic()
    proc = kfb(["diagnose", "--context", "silent", "--out", "out"], tmp_path, env=env)
    assert time.monotonic() - started < BOUND
    assert proc.returncode == 0, proc.stderr
    assert "warning: helm releases not collected: `" in proc.stderr and "did not finish within 19s" in proc.stderr
    assert list((tmp_path / "out").glob("*.tar.gz"))


# ------------------------------------------------------------------ 3. a Dex password bcrypt cannot take


@pytest.mark.parametrize(
    "password, why",
    [
        ("x" * 73, "longer than 72 bytes"),
        ("é" * 37, "longer than 72 bytes"),  # 37 characters, 74 bytes in UTF-8
        (" " * 12, "only whitespace"),
        ("\t \n" * 4, "only whitespace"),
    ],
    ids=["73-ascii", "74-bytes-utf8", "spaces", "tabs-newlines"],
)
def test_a_password_bcrypt_cannot_hash_or_no_one_can_type_is_refused(password, why):
    from kfbootstrap.access.passwords import check_strength

    with pytest.raises(UsageError, match=why) as refused:
        check_strength(password, "$KF_PW")
    assert "$KF_PW" in refused.value.message and refused.value.exit_code == USAGE
    assert password not in refused.value.message  # never echoed


def test_the_longest_password_bcrypt_takes_is_accepted():
    from kfbootstrap.access.passwords import check_strength, hash_password, matches

    password = "ü" * 36  # 72 bytes
    assert check_strength(password, "x") == password
    assert matches(password, hash_password(password, rounds=4))


def test_up_refuses_a_too_long_password_before_anything_changes(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFBOOTSTRAP_KUBEFLOW__PASSWORD", "KF_PW")
    monkeypatch.setenv("KF_PW", "p" * 80)
    result = run_cli(capsys, "up", "--dry-run")
    assert result.code == USAGE, result.text
    assert error_line(result.err) == "error: the password from $KF_PW is longer than 72 bytes (80)"
    assert "72" in hint_line(result.err)


@pytest.mark.parametrize("value", [" " * 12, "x" * 100], ids=["whitespace", "too-long"])
def test_passwd_refuses_it_before_asking_the_cluster(value, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NEW_PW", value)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # never read: the password is refused first
    result = run_cli(capsys, "passwd", "--from-env", "NEW_PW")
    assert result.code == USAGE, result.text
    assert error_line(result.err).startswith("error: the password from $NEW_PW ")


# ------------------------------------------------------------------ 4, 5. the image cache commands without Docker

NO_DOCKER = {"DOCKER_HOST": "tcp://127.0.0.1:1", "KFBOOTSTRAP_CACHE__ENABLED": "true"}  # a closed port


def assert_docker_does_not_answer(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == FAILED, proc.stdout + proc.stderr
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
    error = error_line(proc.stderr)
    if shutil.which("docker"):
        assert error.startswith("error: Docker does not answer at tcp://127.0.0.1:1"), proc.stderr
    else:
        assert error == "error: docker was not found on PATH", proc.stderr
    assert "docker" in hint_line(proc.stderr).lower()
    assert "✓" not in proc.stderr and "missing" not in proc.stdout  # nothing claims success or absence


@pytest.mark.parametrize(
    "argv",
    [
        ["cache", "status"],
        ["cache", "status", "--json"],
        ["cache", "prune", "--yes"],
        ["cache", "prune", "--registry", "docker.io", "--yes"],
        ["down", "--keep-cluster", "--purge-cache", "--context", "nowhere"],
    ],
    ids="-".join,
)
def test_the_cache_commands_fail_when_docker_does_not_answer(argv, tmp_path):
    assert_docker_does_not_answer(kfb(argv, tmp_path, env=NO_DOCKER))


def test_images_pull_without_docker_says_so_before_rendering(tmp_path):
    (tmp_path / "manifests").mkdir()  # no render in it: rendering would fail, so it must not be reached
    proc = kfb(["images", "pull", "--manifests", "manifests"], tmp_path, env=NO_DOCKER)
    assert_docker_does_not_answer(proc)
    assert "Render" not in proc.stderr


def test_images_pull_with_the_cache_off_says_so_before_rendering(tmp_path):
    (tmp_path / "manifests").mkdir()
    proc = kfb(["images", "pull", "--manifests", "manifests"], tmp_path, env={"KFBOOTSTRAP_CACHE__ENABLED": "false"})
    assert proc.returncode == USAGE, proc.stderr
    assert error_line(proc.stderr) == "error: the image cache is off (cache.enabled: false)", proc.stderr
    assert "Render" not in proc.stderr


def test_cache_prune_without_a_terminal_asks_for_yes(tmp_path):
    proc = kfb(["cache", "prune"], tmp_path, env=NO_DOCKER)  # stdin is /dev/null: nobody to confirm
    assert proc.returncode == USAGE, proc.stderr
    assert error_line(proc.stderr) == "error: no terminal to confirm dropping every cached layer on"
    assert "--yes" in hint_line(proc.stderr)


# ------------------------------------------------------------------ 7. absurd timeouts


@pytest.mark.parametrize(
    "env, argv, named",
    [
        ({"KFBOOTSTRAP_TIMEOUTS__API": "99999999999999999999"}, ["config", "show"], "`timeouts.api`"),
        ({"KFBOOTSTRAP_TIMEOUTS__API": "3601"}, ["status", "--context", "x"], "`timeouts.api`"),
        ({"KFBOOTSTRAP_TIMEOUTS__READY": "99999999999999999999"}, ["config", "show"], "`timeouts.ready`"),
        ({"KFBOOTSTRAP_TIMEOUTS__CLUSTER": "604801"}, ["config", "show"], "`timeouts.cluster`"),
        ({}, ["up", "--dry-run", "--timeout", "99999999999h"], "`timeouts.ready` (flag --timeout)"),
        ({}, ["passwd", "--from-env", "PW", "--timeout", "99999999999999999999"], "--timeout"),
        ({}, ["smoke", "--pipeline-timeout", "99999999999999999999"], "--pipeline-timeout"),
    ],
    ids=["api-huge", "api-over-an-hour", "ready-huge", "cluster-over-a-week", "up-timeout", "passwd", "smoke"],
)
def test_an_absurd_timeout_is_a_usage_error(env, argv, named, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("PW", "long-enough-pw")
    result = run_cli(capsys, *argv)
    assert result.code == USAGE, result.text
    assert named in result.err and "unexpected" not in result.err


def test_an_absurd_api_timeout_never_reaches_a_socket(web_page_server, tmp_path):
    """The sweep's reproduction: the value passed validation, then the socket refused it (OverflowError)."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{web_page_server}", "webpage")
    env = {"KUBECONFIG": str(kubeconfig), "KFBOOTSTRAP_TIMEOUTS__API": "99999999999999999999"}
    proc = kfb(["status", "--context", "webpage"], tmp_path, env=env)
    assert proc.returncode == USAGE, proc.stderr
    assert error_line(proc.stderr).startswith(
        "error: config key `timeouts.api` (environment KFBOOTSTRAP_TIMEOUTS__API)"
    )


# ------------------------------------------------------------------ 8. output into a pipe that closed


@pytest.mark.parametrize(
    "argv",
    [["config", "schema"], ["config", "show"], ["version"], ["--help"], ["expose", "--list"]],
    ids="-".join,
)
def test_output_to_a_closed_pipe_exits_141_quietly(argv, tmp_path):
    """`kfbootstrap status | head -1`: the reader is gone before we write; like other CLIs (SIGPIPE), exit
    141 with nothing on stderr. `config show`/`version` print with typer, `expose --list` with rich."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away (head -1 read its line)
    try:
        proc = kfb(argv, tmp_path, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_a_broken_pipe_that_is_not_stdout_still_says_so(capsys, monkeypatch):
    """A connection we write to going away (not our stdout): typer turns its EPIPE into a bare exit 1;
    the boundary must still print an error."""
    import kfbootstrap.cli.app as cli_app

    def broken() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    cli_app.app.command("broken-socket")(broken)
    try:
        result = run_cli(capsys, "broken-socket")
    finally:
        cli_app.app.registered_commands.pop()
    assert result.code == FAILED
    assert error_line(result.err).startswith("error: "), result.err


# ------------------------------------------------------------------ 11. a config file too big to be one


def test_a_config_file_over_a_mib_is_refused_at_once(tmp_path, monkeypatch, capsys):
    """The sweep's 100 MB file took 58 s to load; here 3 MiB of valid YAML (comments and one key)."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "kfbootstrap.yaml"
    config.write_text("# padding\n" * (3 * 1024 * 1024 // 10) + "profile: minimal\n")
    started = time.monotonic()
    result = run_cli(capsys, "config", "show")
    assert time.monotonic() - started < 2
    assert result.code == USAGE, result.text
    assert error_line(result.err) == f"error: config file {config} is 3.0 MiB; a kfbootstrap.yaml is at most 1 MiB"
    assert hint_line(result.err).startswith("hint: is --config the right file?")


def test_a_config_file_of_just_under_a_mib_still_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kfbootstrap.yaml").write_text("# padding\n" * (1024 * 1024 // 10 - 2) + "profile: minimal\n")
    result = run_cli(capsys, "config", "show")
    assert result.code == 0, result.text
    assert "profile: minimal" in result.out


# ------------------------------------------------------------------ 10. messages that did not say enough


@pytest.mark.parametrize(
    "method, path, refused, check",
    [
        ("GET", "/apis", "cannot get /apis", "auth can-i get /apis"),
        ("GET", "/apis/metallb.io/v1beta1", "cannot get /apis/metallb.io/v1beta1", "auth can-i get /apis/metallb.io"),
        ("GET", "/apis/apps/v1/deployments?labelSelector=x", "cannot list", "auth can-i list deployments.apps`"),
        ("GET", "/api/v1/namespaces/kf/configmaps", "cannot list", "auth can-i list configmaps -n kf`"),
        ("DELETE", "/api/v1/namespaces/kf/configmaps/a", "cannot delete", "auth can-i delete configmaps -n kf`"),
        ("GET", "/api/v1/namespaces/kf/pods/p/log", "cannot get", "auth can-i get pods/log -n kf`"),
    ],
)
def test_a_refused_request_by_path_names_what_to_ask_rbac_about(method, path, refused, check):
    """`down --keep-cluster` reads by path; its 403 hint said `auth can-i get RESOURCE`."""
    from kubernetes.client import ApiClient, Configuration

    from kfbootstrap.kube.rest import KubeRest, Response

    configuration = Configuration()
    configuration.host = "https://127.0.0.1:6443"
    rest = KubeRest(ApiClient(configuration), context="mine")
    body = json.dumps({"kind": "Status", "message": "forbidden: User cannot", "reason": "Forbidden", "code": 403})
    error = rest.failed(method, path, Response(403, body.encode()))
    assert error.message.startswith(f"{refused} ") and "(kube context mine): forbidden" in error.message
    assert f"`kubectl --context mine {check}" in (error.hint or "") and "RESOURCE" not in (error.hint or "")


def test_a_read_that_timed_out_keeps_its_closing_parenthesis():
    from urllib3 import HTTPSConnectionPool
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    from kfbootstrap.kube.rest import no_answer

    pool = HTTPSConnectionPool("127.0.0.1", 6443)
    timed_out = ReadTimeoutError(pool, "/api", "Read timed out. (read timeout=5.0)")
    for exc in (timed_out, MaxRetryError(pool, "/api", timed_out)):
        assert no_answer(exc).body == b"Read timed out. (read timeout=5.0)"
    wrapped = MaxRetryError(pool, "/api", None)  # no reason to unwrap: its own text, parentheses balanced
    said = no_answer(wrapped).body.decode()
    assert said.count("(") == said.count(")"), said


@pytest.mark.parametrize(
    "name, why",
    [("-lead", "starts with '-'"), ("lead-", "ends with '-'"), ("Lead", "has 'L'"), ("a_b", "has '_'")],
)
def test_a_refused_cluster_name_says_why(name, why, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "up", "--dry-run", "--name", name)
    assert result.code == USAGE, result.text
    assert error_line(result.err).startswith(f"error: config key `cluster.name` (flag --name): {why}: ")
    assert "starts and ends with a letter or digit" in result.err


def test_an_environment_key_with_a_dot_is_one_key(capsys, tmp_path, monkeypatch):
    """Registries are named with dots; only `__` separates levels."""
    from kfbootstrap.config import load_config

    var = "KFBOOTSTRAP_CACHE__REGISTRIES__DOCKER.IO"
    config = load_config(None, {}, env={var: "https://mirror.example"}).config
    assert config.cache.registries == {"docker.io": "https://mirror.example"}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(var, "mirror.example")
    result = run_cli(capsys, "config", "show")
    assert result.code == USAGE
    assert error_line(result.err) == (
        f"error: config key `cache.registries` (environment {var}): upstream of docker.io must be an http(s):// "
        "URL, not 'mirror.example'"
    )


def test_a_file_where_the_forwards_directory_belongs_is_named_with_what_to_do(tmp_path, monkeypatch):
    from kfbootstrap.access.forwards import ForwardSpec, start_background

    state = tmp_path / "state"
    state.mkdir()
    (state / "forwards").write_text("not a directory\n")
    monkeypatch.setenv("KFBOOTSTRAP_STATE_DIR", str(state))
    spec = ForwardSpec("grafana", "127.0.0.1", 3000, "monitoring", ["grafana"], 80)
    with pytest.raises(KfbError) as refused:
        start_background(spec)
    assert refused.value.message == (
        f"{state / 'forwards'} is a file, but kfbootstrap keeps the background forwards' records and logs there"
    )
    assert (
        refused.value.hint
        == f"move it away (`mv {state / 'forwards'} {state / 'forwards'}.old`) or remove it, then re-run"
    )


# ------------------------------------------------------------------ 6. a throttled list is asked again


@pytest.fixture
def throttling_server():
    """An API server serving one kind, ConfigMaps, whose list answers 429 (priority and fairness, as a busy
    server does) twice before it answers. Yields (port, list requests seen)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            path = self.path.split("?", 1)[0]
            status, body = 200, {}
            if path == "/apis":
                body = {"kind": "APIGroupList", "groups": []}
            elif path == "/api/v1":
                resource = {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["list", "delete"]}
                body = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [resource]}
            elif path == "/api/v1/configmaps":
                seen.append(path)
                if len(seen) <= 2:
                    status, body = 429, {"kind": "Status", "code": 429, "message": "too many requests"}
                else:
                    body = {"kind": "ConfigMapList", "items": []}
            else:
                status = 404
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_down_keep_cluster_asks_a_throttled_list_again_before_calling_it_unlisted(throttling_server, tmp_path):
    from kfbootstrap.kube.cleanup import delete_managed
    from kfbootstrap.kube.client import api_client
    from kfbootstrap.kube.rest import KubeRest, Timeouts

    port, seen = throttling_server
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}", "busy")
    report = delete_managed(KubeRest(api_client("busy", str(kubeconfig)), context="busy", timeouts=Timeouts(2, 2)))
    assert report.unlisted == [] and report.deleted == [] and report.failed == []
    assert len(seen) == 3
