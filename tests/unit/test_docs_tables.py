"""The reference docs list what the code has: every command, component, forward target, chart,
`creds` target, smoke check, profile and exit code has its row in the docs page that documents it.

Adding one (a Helm add-on such as loki, a command, an exit code) fails here until its rows are
written, and each failure names the page, the table and the row to add.
"""

from __future__ import annotations

import re

import typer.main

from kfbootstrap import components, errors
from kfbootstrap.cli.app import app
from kfbootstrap.config import PROFILE_PRESETS
from tests.docs_tables import missing_row, page, section, table_rows, where
from tests.shared_fixtures import REPO_ROOT

COMMANDS, REACHING = "commands.md", "Reaching the platform: `expose` and `creds`"


def _first_cells(name: str, heading: str) -> list[str]:
    return [row[0] for row in table_rows(section(name, heading))]


def _smoke_check_name(check: object) -> str:
    # A descriptor's smoke checks are SmokeCheck records (older descriptors named them as strings).
    return str(getattr(check, "name", check))


def test_every_command_has_a_row_in_the_commands_table():
    cli = typer.main.get_command(app)
    words = []
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        words += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    cells = " ".join(_first_cells(COMMANDS, "Commands"))
    for word in words:
        assert f"`{word}" in cells, missing_row(
            COMMANDS, "Commands", f"`kfbootstrap {word}`", f"| `{word} [its flags]` | what it does |"
        )


def test_every_forward_target_has_a_row_in_the_expose_table():
    cells = _first_cells(COMMANDS, REACHING)
    for target in components.targets().values():
        row = (
            f"| {target.name} | {target.services[0]} ({target.namespace}) | "
            f"{target.remote_port} → {target.default_port} |"
        )
        assert target.name in cells, missing_row(COMMANDS, REACHING, f"forward target {target.name}", row)


def test_every_chart_has_a_row_in_the_add_ons_table():
    rows = {row[0]: row for row in table_rows(section("add-ons.md", "Add-ons"))}
    for name, pin in components.chart_pins().items():
        row = f"| {name} | {pin.chart} {pin.version} | {pin.namespace} | what kfbootstrap adds (its values file) |"
        assert name in rows, missing_row("add-ons.md", "Add-ons", f"chart {name}", row)
        assert f"{pin.chart} {pin.version}" in rows[name][1], f"{where('add-ons.md', 'Add-ons')}: make it {row}"
        assert rows[name][2] == pin.namespace, f"{where('add-ons.md', 'Add-ons')}: make it {row}"


def test_every_creds_target_is_named_in_the_commands_table():
    row = next(cells for cells in table_rows(section(COMMANDS, "Commands")) if cells[0].startswith("`creds "))
    for name in components.creds_targets():
        assert f"`{name}`" in row[1], (
            f"{where(COMMANDS, 'Commands')}: the `creds TARGET` row does not name `{name}`: add it to its list"
        )


def test_every_smoke_check_has_a_row_in_the_smoke_table():
    rows = table_rows(section("ci.md", "`smoke`"))
    for component in components.COMPONENTS:
        for check in map(_smoke_check_name, component.smoke):
            row = next((cells for cells in rows if f"`{check}`" in cells[0]), None)
            wanted = f"| `{check}` | {component.name} | passes when … |"
            assert row is not None, missing_row("ci.md", "`smoke`", f"check {check}", wanted)
            assert component.name in row[1], f"{where('ci.md', '`smoke`')}: the row of `{check}` names {component.name}"


def test_the_configuration_page_lists_every_component_and_forward_port():
    text = page("configuration.md").read_text(encoding="utf-8")
    switches = next(line for line in text.splitlines() if line.strip().startswith("{kubeflow: true"))
    ports = next(line for line in text.splitlines() if line.strip().startswith("ports: {"))
    for name in components.names():
        assert f"{name}: true" in switches, (
            f"{where('configuration.md')}: the `components:` switches lack `{name}: true`: add it to that line"
        )
    for target in components.targets().values():
        assert f"{target.port_key}: {target.default_port}" in ports, (
            f"{where('configuration.md')}: `forwards.ports` lacks `{target.port_key}: {target.default_port}`: "
            "add it to that line"
        )


def test_every_profile_has_a_row_in_the_profiles_table():
    cells = _first_cells("profiles-and-apps.md", "Profiles")
    for name in PROFILE_PRESETS:
        row = f"| `{name}` | changes from the defaults | needs (min / recommended) |"
        assert f"`{name}`" in cells, missing_row("profiles-and-apps.md", "Profiles", f"profile {name}", row)


def test_every_exit_code_has_a_row_in_the_exit_codes_table():
    cells = _first_cells("exit-codes.md", "Exit codes")
    codes = {name: value for name, value in vars(errors).items() if name.isupper() and isinstance(value, int)}
    for name, code in codes.items():
        assert str(code) in cells, missing_row(
            "exit-codes.md", "Exit codes", f"exit code {code} ({name})", f"| {code} | what it means |"
        )


def test_the_readmes_links_reach_their_pages():
    """mkdocs checks the links of docs/; the README is outside it, so its links are checked here."""
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    headings = {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (REPO_ROOT / path).is_file(), f"README.md links to {target}, but {path} does not exist"
        else:
            assert anchor in headings, f"README.md links to {target}, but has no such heading"


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
