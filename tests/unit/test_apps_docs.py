"""README's table of what each profile and choice of apps requests is generated, not typed.

The block between the apps-table markers must equal what kfbootstrap.apps.report makes
of the 26.03.1 fixture render. KFB_WRITE_README=1 rewrites it (then review the diff).
"""

from __future__ import annotations

import lzma
import os
import re

from kfbootstrap.apps.catalog import CATALOG_26_03_1
from kfbootstrap.apps.report import needs_markdown, readme_block
from kfbootstrap.kube.objects import parse_manifests
from tests.shared_fixtures import REPO_ROOT, fixture_path

BEGIN, END = "<!-- apps-table:begin -->\n", "<!-- apps-table:end -->"
NEEDS_BEGIN, NEEDS_END = "<!-- apps-needs:begin -->\n", "<!-- apps-needs:end -->"


def test_readme_tables_are_what_the_code_measures():
    path = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    objects = parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    wanted = _replace(
        _replace(text, BEGIN, END, readme_block(objects, CATALOG_26_03_1)),
        NEEDS_BEGIN,
        NEEDS_END,
        needs_markdown(CATALOG_26_03_1),
    )
    if os.environ.get("KFB_WRITE_README") == "1":
        readme.write_text(wanted, encoding="utf-8")
    assert text == wanted, "README's generated apps tables are stale: run with KFB_WRITE_README=1 and review"


def _replace(text: str, begin: str, end: str, block: str) -> str:
    assert begin in text and end in text, f"README lacks the {begin.strip()} markers"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + block + end, text, flags=re.S)
