"""The job config: the paper's defaults, and clear errors for bad values."""

from __future__ import annotations

import pytest

from advisor_trainer.config import TrainingJobConfig, field_help, parse_override
from advisor_trainer.errors import ConfigError

pytestmark = pytest.mark.unit


def test_defaults_are_the_papers_recipe() -> None:
    c = TrainingJobConfig()
    assert (c.lora_r, c.lora_alpha, c.lora_dropout) == (16, 32, 0.0)
    assert c.lora_target_modules == (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    assert (c.bnb_4bit_quant_type, c.bnb_4bit_use_double_quant, c.load_in_4bit) == (
        "nf4",
        True,
        True,
    )
    assert (c.max_seq_len, c.micro_batch_size, c.gradient_accumulation_steps) == (2048, 2, 4)
    assert (c.num_train_epochs, c.learning_rate, c.lr_scheduler_type) == (3, 2e-4, "linear")
    assert (c.warmup_ratio, c.max_grad_norm, c.optim) == (0.03, 0.3, "adamw_8bit")
    assert (c.seed, c.lora_init_seed, c.loss_on) == (42, 3407, "assistant")


def test_every_field_has_help_text() -> None:
    rows = field_help()
    assert len(rows) > 30
    assert all(text for _, _, text in rows)


def test_help_lists_every_field_with_its_default() -> None:
    default = TrainingJobConfig()
    rows = field_help()
    assert [name for name, _, _ in rows] == list(default.to_dict())
    assert all(shown == repr(getattr(default, name)) for name, shown, _ in rows)


def test_unknown_field_is_refused_with_the_closest_name() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config field 'lora_rank' \(did you mean 'lora_r'\?\)"
    ):
        TrainingJobConfig.from_mapping({"lora_rank": 8})


def test_a_removed_field_still_loads_with_a_warning_naming_it(tmp_path) -> None:
    """A config written for an older version keeps running: `flat_optimizer` is ignored, and
    the warning says it was removed, so the job is not lost to an unknown-field error."""
    path = tmp_path / "old.yaml"
    path.write_text("run_name: study\nflat_optimizer: auto\n")
    with pytest.warns(FutureWarning, match="config field 'flat_optimizer' was removed"):
        old = TrainingJobConfig.from_yaml(path)
    assert old == TrainingJobConfig(run_name="study")
    assert "flat_optimizer" not in old.to_dict()
    with pytest.warns(FutureWarning, match="'flat_optimizer' was removed and is ignored"):
        assert old.with_overrides(flat_optimizer="off") == old


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lora_r": 0}, "lora_r must be >= 1, got 0"),
        ({"lora_r": "8"}, "lora_r: expected an integer, got '8'"),
        ({"learning_rate": 0}, r"learning_rate must be in \(0, 1\], got 0.0"),
        ({"warmup_ratio": 1.0}, r"warmup_ratio must be in \[0.0, 1.0\), got 1.0"),
        ({"optim": "sgd"}, "optim: 'sgd' is not one of 'adamw_8bit'"),
        ({"run_name": "Bad/Name"}, "run_name: invalid adapter name"),
        ({"device_profile": "v100"}, "device_profile 'v100' is not one of a100, h200, p100, t4"),
        ({"resume": "../x"}, "resume: expected 'auto' or NAME@VERSION"),
        ({"session_budget": "1h", "deadline": "2030-01-01T00:00:00Z"}, "not both"),
        ({"gradient_checkpointing": "yes"}, "expected true or false"),
        ({"gradient_checkpointing": 1}, "gradient_checkpointing: expected true or false, got '1'"),
        ({"max_steps": 2.5}, "max_steps: expected an integer, got '2.5'"),
        ({"max_steps": 0}, "max_steps must be >= 1, got 0"),
        ({"weight_decay": "much"}, "weight_decay: expected a number, got 'much'"),
        ({"weight_decay": True}, "weight_decay: expected a number, got 'True'"),
        ({"max_grad_norm": 0}, "max_grad_norm must be > 0, got 0.0"),
        ({"validation_fraction": 0.6}, r"validation_fraction must be in \[0.0, 0.5\], got 0.6"),
        ({"lora_dropout": float("nan")}, r"lora_dropout must be in \[0.0, 1.0\), got nan"),
        ({"dataset": "  "}, "dataset: expected a non-empty string, got '  '"),
        ({"resume": 3}, "resume: expected a non-empty string, got '3'"),
        (
            {"lora_target_modules": ["q_proj", 1]},
            r"expected a list of names, got \"\['q_proj', 1\]",
        ),
        ({"lora_target_modules": " , "}, "lora_target_modules must name at least one module"),
        ({"lora_r": 8, "lora_rnak": 4}, r"unknown config field 'lora_rnak' \(did you mean"),
    ],
)
def test_bad_values_name_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainingJobConfig.from_mapping(changes)


def test_yaml_file_and_overrides(tmp_path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("run_name: study\nlora_r: 8\nlora_target_modules: [q_proj, v_proj]\n")
    config = TrainingJobConfig.from_yaml(path)
    assert (config.run_name, config.lora_r, config.lora_target_modules) == (
        "study",
        8,
        ("q_proj", "v_proj"),
    )
    changed = config.with_overrides(**dict([parse_override("learning_rate=1e-4")]))
    assert changed.learning_rate == 1e-4 and changed.lora_r == 8
    assert parse_override("max_steps=12") == ("max_steps", 12)
    with pytest.raises(ConfigError, match="must look like field=value"):
        parse_override("lora_r")


def test_broken_yaml_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("lora_r: [1,\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        TrainingJobConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        TrainingJobConfig.from_yaml(tmp_path / "missing.yaml")


def test_the_constructor_refuses_like_a_mapping() -> None:
    """Code that builds a config directly gets the same errors as a file or a request."""
    with pytest.raises(
        ConfigError, match=r"unknown config field 'seeds' \(did you mean 'seed'\?\)"
    ):
        TrainingJobConfig(seeds=1)
    with pytest.raises(ConfigError, match="lora_alpha must be >= 1, got 0"):
        TrainingJobConfig(lora_alpha=0)


def test_numbers_and_names_are_read_as_the_command_line_writes_them() -> None:
    """PyYAML reads `1e-4` as a string and `--set` gives comma-separated names."""
    config = TrainingJobConfig.from_mapping(
        {"learning_rate": "1e-4", "lora_target_modules": "q_proj, v_proj", "weight_decay": 0}
    )
    assert config.learning_rate == 1e-4
    assert config.lora_target_modules == ("q_proj", "v_proj")
    assert config.weight_decay == 0.0 and isinstance(config.weight_decay, float)
    assert config.to_dict()["lora_target_modules"] == ["q_proj", "v_proj"]
