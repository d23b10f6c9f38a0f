"""The docs' tables of what each profile and choice of apps requests are generated, not typed.

The blocks between the apps-table and apps-needs markers of docs/profiles-and-apps.md must equal
what kfbootstrap.apps.report makes of the 26.03.1 fixture render. KFB_WRITE_DOCS=1 rewrites them
(then review the diff).
"""

from __future__ import annotations

import lzma
import os
import re

from kfbootstrap.release_parts import CATALOG_26_03_1
from kfbootstrap.apps.report import docs_block, needs_markdown
from kfbootstrap.kube.objects import parse_manifests
from tests.docs_tables import page, where
from tests.shared_fixtures import fixture_path

PAGE = "profiles-and-apps.md"
BEGIN, END = "<!-- apps-table:begin -->\n", "<!-- apps-table:end -->"
NEEDS_BEGIN, NEEDS_END = "<!-- apps-needs:begin -->\n", "<!-- apps-needs:end -->"


def test_docs_apps_tables_are_what_the_code_measures():
    path = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    objects = parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))
    docs = page(PAGE)
    text = docs.read_text(encoding="utf-8")
    wanted = _replace(
        _replace(text, BEGIN, END, docs_block(objects, CATALOG_26_03_1)),
        NEEDS_BEGIN,
        NEEDS_END,
        needs_markdown(CATALOG_26_03_1),
    )
    if os.environ.get("KFB_WRITE_DOCS") == "1":
        docs.write_text(wanted, encoding="utf-8")
    have = set(text.splitlines())
    missing = [line for line in wanted.splitlines() if line not in have]
    assert text == wanted, (
        f"{where(PAGE)}'s generated apps tables are stale; the lines to add (or to put in place of the "
        "old ones) are:\n" + "\n".join(missing) + "\nKFB_WRITE_DOCS=1 rewrites them: run it and review the diff"
    )


def _replace(text: str, begin: str, end: str, block: str) -> str:
    assert begin in text and end in text, f"{where(PAGE)} lacks the {begin.strip()} markers"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + block + end, text, flags=re.S)
