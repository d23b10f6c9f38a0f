"""The seams and the floors, enforced.

Seams: only kfbootstrap/kube/ talks to the API (imports `kubernetes`), only kfbootstrap/tools/ runs
programs (builds argv for them or starts processes).

Floors: every module of kfbootstrap sits on one floor of FLOORS and imports only modules of its own
floor or below; no two modules import each other, directly or round a circle; the command line
(cli/) never reaches past the packages that do the work into kube/ or tools/. Every import counts:
module level, lazy inside a function, and `if TYPE_CHECKING:`. There is no exception list: a module
that needs something from above moves, or the thing it needs moves down.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kfbootstrap"
PROGRAMS = {"kubectl", "helm", "kind", "docker", "git", "kustomize", "sysctl", "sudo"}
PROCESS_MODULES = {"subprocess", "sh", "pty", "pyhelm3"}
API_MODULES = {"kubernetes", "urllib3", "websocket"}

# Low to high. An entry names a module or a package (all of it, unless a longer entry names one of its
# modules: preflight.findings sits far below the rest of preflight/). Why each floor sits where it does:
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    # Words every layer speaks and that know nothing of Kubernetes, Docker or Kubeflow: errors, durations,
    # paths, the terminal, the log, the host machine, and the Finding vocabulary doctor and preflight share.
    (
        "base",
        (
            "",  # the package itself: __version__
            "errors",
            "durations",
            "paths",
            "safeyaml",
            "ui",
            "logsetup",
            "host",
            "preflight.findings",
        ),
    ),
    # The two adapters to the outside world. tools/ runs programs, kube/ talks to the API server; neither
    # knows of components, config or releases (callers pass in what they need, e.g. readiness scopes).
    ("adapters", ("tools", "kube")),
    # What a Kubeflow platform is, as data: the releases and their catalogs, the component descriptors,
    # how an image reference names its registry and the default upstreams. The config is checked against it.
    ("model", ("releases", "release_parts", "components", "tag_pins", "image_refs", "image_platforms")),
    # The user's config: schema, defaults generated from the model, profiles, loading.
    ("config", ("config",)),
    # What is installed, derived from a config: the renders of manifests and charts, the images named in
    # them, the kubeadm patches of the nodes, what is not ready and why. Below apps/ and cache/, which choose
    # among renders and cache images (manifests → apps and images → cache were upward imports #24 removed).
    ("renders", ("manifests", "charts", "images", "kubeadm_patches", "notready")),
    # Working on those renders: choosing applications (apps/), the images of the chosen ones
    # (image_sources), caching images (cache/), planning and carrying out an upgrade around the apply (upgrade/).
    ("domain", ("apps", "image_sources", "cache", "upgrade")),
    # What a command does, each on its run context: the checks before `up`, the steps of `up`, access to
    # what runs (forwards, creds, status), smoke checks, diagnosis, exports, teardown, cache admin, stop/start.
    (
        "actions",
        (
            "context",
            "preflight",
            "steps",
            "access",
            "smoke",
            "diagnose",
            "export",
            "teardown",
            "cache_admin",
            "lifecycle",
            "serving",
            "upgrade.dryrun",  # the plan `up --dry-run` prints, made by the Kubeflow step
        ),
    ),
    # The ordered steps of `up`, built from the config.
    ("pipeline", ("pipeline",)),
    # The command line: a thin face over everything below (and never kube/ or tools/ directly).
    ("cli", ("cli", "__main__")),
]
# The command line calls the packages that do the work; these it never imports.
CLI_NEVER_IMPORTS = ("kube", "tools")


# ---------------------------------------------------------------- seams


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def _imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _argv_literals(tree: ast.Module) -> list[str]:
    """List literals that start with a program's name: an argv being built."""
    return [
        ast.unparse(node)[:80]
        for node in ast.walk(tree)
        if isinstance(node, ast.List)
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value in PROGRAMS
    ]


@pytest.mark.parametrize("name, tree", _modules(), ids=lambda value: value if isinstance(value, str) else "")
def test_only_kube_talks_to_the_api_and_only_tools_runs_programs(name, tree):
    package = name.split("/")[0] if "/" in name else ""
    if package != "kube":
        assert not _imports(tree) & API_MODULES, f"{name} imports the Kubernetes client: go through kube/"
    if package != "tools":
        assert not _imports(tree) & PROCESS_MODULES, f"{name} starts processes: go through tools/"
        assert not _argv_literals(tree), f"{name} builds argv for a program: go through tools/"


def test_the_rule_sees_what_it_forbids():
    tree = ast.parse('import kubernetes\nfrom sh import git\nrunner.run(["kubectl", "get", "pods"])\n')
    assert _imports(tree) == {"kubernetes", "sh"} and _argv_literals(tree) == ["['kubectl', 'get', 'pods']"]


# ---------------------------------------------------------------- floors


def module_sources(root: Path) -> dict[str, str]:
    """{dotted module name: source} for the package at `root` (its directory name is the package's name)."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text(encoding="utf-8")
    return sources


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """{module: the package's modules it imports}, from every import statement wherever it stands."""
    package = min(sources, key=len)
    graph: dict[str, set[str]] = {}
    for name, source in sources.items():
        is_package = any(other.startswith(name + ".") for other in sources) or name == package
        graph[name] = {
            target
            for node in ast.walk(ast.parse(source))
            for target in _targets(node, name, is_package, sources)
            if target in sources and target != name
        }
    return graph


def _targets(node: ast.AST, module: str, is_package: bool, sources: dict[str, str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: from the module's own package upwards
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod.
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in sources else base for alias in node.names]


def floor_of(module: str, floors: list[tuple[str, tuple[str, ...]]] = FLOORS) -> int | None:
    """The index of the floor whose longest entry names the module or a package holding it."""
    relative = module.partition(".")[2]
    best: tuple[int, int] | None = None
    for index, (_, entries) in enumerate(floors):
        for entry in entries:
            if relative == entry or (entry and relative.startswith(entry + ".")):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), index)
    return None if best is None else best[1]


def violations(graph: dict[str, set[str]], floors: list[tuple[str, tuple[str, ...]]] = FLOORS) -> list[str]:
    """Every module without a floor, every import that climbs, every cli import of kube/ or tools/."""
    found = []
    for module in sorted(graph):
        mine = floor_of(module, floors)
        if mine is None:
            found.append(f"{module} has no floor: add it to FLOORS in tests/unit/test_layering.py")
            continue
        for target in sorted(graph[module]):
            theirs = floor_of(target, floors)
            if theirs is not None and theirs > mine:
                found.append(
                    f"{module} ({floors[mine][0]}) imports {target} ({floors[theirs][0]}): an import that climbs"
                )
            if _in(module, "cli") and any(_in(target, banned) for banned in CLI_NEVER_IMPORTS):
                found.append(f"{module} imports {target}: the command line goes through access/, steps/ and the rest")
    return found


def _in(module: str, package: str) -> bool:
    relative = module.partition(".")[2]
    return relative == package or relative.startswith(package + ".")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other round a circle (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(groups)


def test_every_module_sits_on_a_floor_and_imports_nothing_above_it():
    found = violations(import_graph(module_sources(PACKAGE)))
    assert not found, "\n".join(found)


def test_no_modules_import_each_other_round_a_circle():
    found = circles(import_graph(module_sources(PACKAGE)))
    assert not found, "\n".join(" → ".join(group) for group in found)


def test_every_floor_entry_names_a_module_that_exists():
    """A floor entry left behind by a move would quietly place nothing."""
    modules = {name.partition(".")[2] for name in module_sources(PACKAGE)}
    stale = [entry for _, entries in FLOORS for entry in entries if entry not in modules]
    assert not stale, f"FLOORS names modules that no longer exist: {stale}"


# ---------------------------------------------------------------- the rule fails on what it forbids


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    """A small fake kfbootstrap package: {path inside it: source}, every package with its __init__."""
    root = tmp_path / "kfbootstrap"
    for relative, source in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return import_graph(module_sources(root))


@pytest.mark.parametrize(
    "how",
    [
        "from kfbootstrap.pipeline import build_steps\n",
        "import kfbootstrap.pipeline\n",
        "def later():\n    from kfbootstrap.pipeline import build_steps\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kfbootstrap.pipeline import Step\n",
        "from . import pipeline\n",
    ],
    ids=["module-level", "plain-import", "lazy", "type-checking", "relative"],
)
def test_a_planted_upward_import_fails_however_it_is_written(tmp_path, how):
    graph = _tree(tmp_path, {"errors.py": how, "pipeline.py": "from kfbootstrap.errors import KfbError\n"})
    assert violations(graph) == [
        "kfbootstrap.errors (base) imports kfbootstrap.pipeline (pipeline): an import that climbs"
    ]
    assert circles(graph) == [["kfbootstrap.errors", "kfbootstrap.pipeline"]]


def test_a_planted_circle_fails_even_within_one_floor(tmp_path):
    graph = _tree(
        tmp_path,
        {
            "steps/preflight.py": "from kfbootstrap.steps.preflight_arch import check\n",
            "steps/preflight_arch.py": "def check():\n    from kfbootstrap.steps.cluster import kubelet_of\n",
            "steps/cluster.py": "from kfbootstrap.steps import preflight\n",
        },
    )
    assert violations(graph) == []  # all on one floor: only the circle is wrong
    assert circles(graph) == [
        ["kfbootstrap.steps.cluster", "kfbootstrap.steps.preflight", "kfbootstrap.steps.preflight_arch"]
    ]


def test_the_command_line_never_imports_kube_or_tools_though_they_are_below_it(tmp_path):
    graph = _tree(
        tmp_path,
        {
            "cli/down.py": "from kfbootstrap.kube.client import connect\nfrom kfbootstrap.teardown import down\n",
            "kube/client.py": "",
            "teardown.py": "",
        },
    )
    assert violations(graph) == [
        "kfbootstrap.cli.down imports kfbootstrap.kube.client: the command line goes through access/, steps/ "
        "and the rest"
    ]


def test_a_module_without_a_floor_fails_and_a_lower_floor_inside_a_package_is_kept(tmp_path):
    graph = _tree(
        tmp_path,
        {
            "newthing.py": "",
            "preflight/findings.py": "",
            "preflight/checks.py": "from kfbootstrap.preflight.findings import Finding\n",
            "errors.py": "from kfbootstrap.preflight.findings import Finding\n",
        },
    )
    assert violations(graph) == ["kfbootstrap.newthing has no floor: add it to FLOORS in tests/unit/test_layering.py"]
    assert floor_of("kfbootstrap.preflight.findings") == 0 and floor_of("kfbootstrap.preflight.checks") == 6
