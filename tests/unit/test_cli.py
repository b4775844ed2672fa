"""`advisor --help` lists the subcommands the installed services register."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from advisor_shared.cli import build_app

pytestmark = pytest.mark.unit


def test_help_lists_registered_subcommands() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert result.exit_code == 0
    for command in ("data", "models", "demo"):
        assert command in result.output


def test_the_shared_package_registers_its_commands() -> None:
    """`advisor adapters` and `advisor deploy` come from the shared package's entry points."""
    import tomllib
    from importlib import import_module
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "shared" / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["advisor.commands"]
    for name in ("adapters", "deploy"):
        module, _, attribute = declared[name].partition(":")
        assert getattr(import_module(module), attribute) is not None


def test_data_validate_reports_bad_lines(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    result = CliRunner().invoke(build_app(), ["data", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: messages: Field required" in result.output
