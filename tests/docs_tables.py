"""Reading the tables of the reference docs (docs/*.md) that tests keep in step with the code.

A test names the page and the section holding a table; a row that is missing fails with the
page, the section and the row to add, so whoever adds a release, a component or an exit code
is told where to document it.
"""

from __future__ import annotations

from pathlib import Path

from tests.shared_fixtures import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def page(name: str) -> Path:
    return DOCS / name


def where(name: str, heading: str | None = None) -> str:
    """How a failure message names a table: `docs/x.md ('Heading')`."""
    return f"docs/{name}" + (f" ('{heading}')" if heading else "")


def section(name: str, heading: str) -> str:
    """The text under a heading of a docs page, up to the next heading of the same or a higher level."""
    lines = page(name).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if _heading_level(line) and line.lstrip("#").strip() == heading]
    assert starts, f"{where(name)} has no heading '{heading}': the table the tests read lives under it"
    level = _heading_level(lines[starts[0]])
    body: list[str] = []
    fenced = False  # a `# comment` in a code block is no heading
    for line in lines[starts[0] + 1 :]:
        fenced ^= line.startswith("```")
        if not fenced and _heading_level(line) in range(1, level + 1):
            break
        body.append(line)
    return "\n".join(body)


def _heading_level(line: str) -> int:
    hashes = len(line) - len(line.lstrip("#"))
    return hashes if hashes and line[hashes:].startswith(" ") else 0


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in text, as stripped cells (header and rule left out)."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]


def missing_row(name: str, heading: str, key: str, row: str) -> str:
    """The failure message for a row that is not there."""
    return f"{where(name, heading)} has no row for {key}: add `{row}` to its table"
