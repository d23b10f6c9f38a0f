"""The seams, enforced: only kfbootstrap/kube/ talks to the API (imports `kubernetes`), only
kfbootstrap/tools/ runs programs (builds argv for them or starts processes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kfbootstrap"
PROGRAMS = {"kubectl", "helm", "kind", "docker", "git", "kustomize", "sysctl", "sudo"}
PROCESS_MODULES = {"subprocess", "sh", "pty", "pyhelm3"}
API_MODULES = {"kubernetes", "urllib3", "websocket"}


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
