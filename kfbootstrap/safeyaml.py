"""YAML written by people (kfbootstrap.yaml, values files), read without its traps.

PyYAML's safe loader still accepts three things that hurt us: a key given twice (the
second block silently replaces the first), an anchor that contains an alias to itself
(every later walk of the data recurses forever), and an "alias bomb" (a few hundred
bytes whose aliases expand to billions of nodes: 14 s and 1.6 GB when validated). The
file is composed into its node graph first, which is linear in the file's size because
aliases are shared nodes there, and that graph is checked before anything expands it.
"""

from __future__ import annotations

from typing import Any

import yaml

# Nodes a document may expand to once aliases are followed. A generous config file has a
# few hundred; a values file a few thousand.
EXPANSION_BUDGET = 50_000


class YamlRefused(ValueError):
    """The YAML parses but we refuse it; `line` is 1-based (0 when unknown)."""

    def __init__(self, problem: str, line: int = 0):
        super().__init__(problem)
        self.problem = problem
        self.line = line


def load(text: str, budget: int = EXPANSION_BUDGET) -> tuple[Any, yaml.Node | None]:
    """The data and its node graph; raises yaml.YAMLError for syntax, YamlRefused for the traps above."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None, None
    _check(node, budget)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _check(root: yaml.Node, budget: int) -> None:
    """Walk the graph as expansion would, within `budget` nodes, refusing cycles and duplicate keys."""
    left = budget
    on_path: set[int] = set()
    checked_keys: set[int] = set()
    # (node, entering?) pairs: an explicit stack, so a deep file cannot hit Python's recursion limit.
    stack: list[tuple[yaml.Node, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        if not entering:
            on_path.discard(id(node))
            continue
        if id(node) in on_path:
            raise YamlRefused("an anchor contains an alias to itself (recursive YAML)", _line(node))
        left -= 1
        if left < 0:
            raise YamlRefused(f"aliases expand to more than {budget} nodes (a YAML alias bomb?)", _line(node))
        if isinstance(node, yaml.ScalarNode):
            continue
        if isinstance(node, yaml.MappingNode) and id(node) not in checked_keys:
            checked_keys.add(id(node))
            _no_duplicate_keys(node)
        on_path.add(id(node))
        stack.append((node, False))
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        stack.extend((child, True) for child in reversed(children))


def _no_duplicate_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = _line(key_node)
        if key_node.value in seen:
            raise YamlRefused(
                f"key `{key_node.value}` is given twice (first on line {seen[key_node.value]}); "
                "the second would silently replace the first",
                line,
            )
        seen[key_node.value] = line


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0
