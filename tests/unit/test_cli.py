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


def test_data_validate_reports_bad_lines(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    result = CliRunner().invoke(build_app(), ["data", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: messages: Field required" in result.output
