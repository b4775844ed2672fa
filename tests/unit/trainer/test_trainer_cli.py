"""`advisor train`: registered, documented, and clear about bad input."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from advisor_shared.cli import build_app

pytestmark = pytest.mark.unit


def test_train_is_registered_and_lists_its_config_fields() -> None:
    runner = CliRunner()
    assert "train" in runner.invoke(build_app(), ["--help"]).output
    result = runner.invoke(build_app(), ["train", "--help-config"], terminal_width=200)
    assert result.exit_code == 0
    for field in ("lora_r", "session_budget", "checkpoint_every_steps", "device_profile"):
        assert field in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "lora_r=0"], "lora_r must be >= 1, got 0"),
        (["--set", "lora_rank=8"], "did you mean 'lora_r'"),
        (["--session-budget", "0s"], "session budget '0s' is empty"),
        (["--deadline", "2020-01-01T00:00:00Z"], "deadline 2020-01-01T00:00:00Z leaves"),
    ],
)
def test_bad_input_exits_2_with_the_reason(args: list[str], message: str, tmp_path) -> None:
    result = CliRunner().invoke(
        build_app(), ["train", "--output-dir", str(tmp_path), *args], terminal_width=300
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
