"""The training job config: one documented dataclass, in the style of TRL's `SFTConfig`.

Defaults are the paper's recipe (docs/paper.md §2.1): LoRA r=16, alpha=32, dropout 0 on all seven
projections, NF4 with double quantisation, sequences of 2048 tokens, micro-batch 2 x gradient
accumulation 4, 3 epochs, LR 2e-4 with a linear schedule and 3% warm-up, max grad norm 0.3,
8-bit AdamW, seed 42 and LoRA init seed 3407.

Defaults that differ from the paper's code, each a lesson of docs/design.md:

- `loss_on="assistant"`: the paper's loss covered human turns too (lesson 2);
- `validation_fraction=0.05`: the paper logged no validation loss (docs/paper.md §2.3);
- `length_grouping=True`: batches of similar length, so padding does not dominate (docs/gpu.md);
- `packing=True`: the conversations of a step share rows without padding, attention kept
  within each conversation (`advisor_trainer.packing`); the step's conversations, its loss and
  the data order are those of the unpacked step;
- the chat template comes from the tokenizer, not `Human:/Assistant:` text (lesson 1);
- on CPU, `optim="adamw_8bit"` runs as plain AdamW (bitsandbytes is CUDA-only); the ledger
  records the optimizer actually used.

A config comes from a YAML file (`TrainingJobConfig.from_yaml`), a mapping (the HTTP API) or
`field=value` overrides (the CLI). Every construction is validated: an unknown field, a wrong
type or a value out of range raises `ConfigError` naming the field. A field that was removed
(`REMOVED_FIELDS`) is accepted, ignored and named in a `FutureWarning`, so that a config
written for an older version still runs instead of losing the job.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from advisor_shared.bundle import BundleRef, validate_adapter_name
from advisor_shared.errors import InvalidNameError
from advisor_shared.models import PRODUCTION_BASE

from .errors import ConfigError

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
Backend = Literal["auto", "unsloth", "hf-bnb", "cpu-lora"]
Optimizer = Literal["adamw_8bit", "paged_adamw_8bit", "adamw_torch"]
Scheduler = Literal["linear", "constant"]
LossOn = Literal["assistant", "all"]
ResumeMode = Literal["restore", "naive"]
Precision = Literal["auto", "bf16", "fp16"]
ReportTo = Literal["none", "tensorboard", "mlflow", "wandb"]


# Fields that no longer exist, with why: still accepted (and ignored) in a config, with a warning.
REMOVED_FIELDS = {
    "flat_optimizer": "the optimizer always runs per tensor now: updating the adapter as one "
    "flat buffer gained the trainer less than 3 % on the H200 (docs/trainer.md)",
}


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass(frozen=True)
class TrainingJobConfig:
    """Everything a training job needs; see the module docstring for the defaults' origin."""

    # --- what to train ---------------------------------------------------------------------
    run_name: str = field(
        default="advisor",
        metadata=_help("Run name = adapter name; bundles go to adapters/<run_name>/<version>/."),
    )
    base_model: str = field(
        default=PRODUCTION_BASE,
        metadata=_help(
            "Base model: 'smollm2-135m-instruct' (embedded), a local folder, or a hub id "
            "(needs the local Hugging Face cache when the hub is offline)."
        ),
    )
    dataset: str = field(
        default="data/sample/train.jsonl",
        metadata=_help(
            "Training conversations: JSONL (ours, OpenAI/TRL chat messages, ShareGPT), parquet, "
            "Arrow, or a datasets save_to_disk folder (its train split)."
        ),
    )
    validation_fraction: float = field(
        default=0.05,
        metadata=_help("Share of conversations held out for eval loss (seeded split); 0 = none."),
    )
    # --- LoRA ------------------------------------------------------------------------------
    lora_r: int = field(default=16, metadata=_help("LoRA rank."))
    lora_alpha: int = field(default=32, metadata=_help("LoRA alpha (scale = alpha / r)."))
    lora_dropout: float = field(default=0.0, metadata=_help("Dropout on the LoRA path."))
    lora_target_modules: tuple[str, ...] = field(
        default=ALL_PROJECTIONS,
        metadata=_help("Linear layers that get an adapter (default: all seven projections)."),
    )
    lora_init_seed: int = field(
        default=3407, metadata=_help("Seed for the LoRA A matrices' initialisation.")
    )
    # --- quantisation (GPU backends) -------------------------------------------------------
    load_in_4bit: bool = field(
        default=True, metadata=_help("Load the base in 4 bits on CUDA (ignored on CPU).")
    )
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = field(
        default="nf4", metadata=_help("bitsandbytes 4-bit data type.")
    )
    bnb_4bit_use_double_quant: bool = field(
        default=True, metadata=_help("Quantise the quantisation constants too.")
    )
    # --- sequence and batch ----------------------------------------------------------------
    max_seq_len: int = field(
        default=2048, metadata=_help("Tokens per sequence; longer ones are truncated.")
    )
    micro_batch_size: int = field(default=2, metadata=_help("Sequences per forward pass."))
    gradient_accumulation_steps: int = field(
        default=4, metadata=_help("Micro-batches per optimizer step.")
    )
    num_train_epochs: int = field(default=3, metadata=_help("Passes over the training split."))
    max_steps: int | None = field(
        default=None,
        metadata=_help("Total optimizer steps; overrides num_train_epochs when set."),
    )
    length_grouping: bool = field(
        default=True,
        metadata=_help("Batch sequences of similar length together (seeded), to cut padding."),
    )
    length_group_size: int = field(
        default=32,
        metadata=_help(
            "Micro-batches per length group: a shuffled window of this many micro-batches "
            "is sorted by length, then the micro-batches are shuffled again."
        ),
    )
    packing: bool = field(
        default=True,
        metadata=_help(
            "Pack each step's conversations into rows of up to max_seq_len tokens, no padding, "
            "attention kept within each conversation; a forward pass holds rows_per_pass "
            "rows. Falls back to padding where the model cannot take it."
        ),
    )
    rows_per_pass: int | None = field(
        default=None,
        metadata=_help(
            "Packed rows per forward pass. Default: on CUDA as many as the memory measured "
            "free after loading holds (at least micro_batch_size, at most the step's "
            "conversations); micro_batch_size on the CPU. Fewer, fuller passes are faster; "
            "the step and its gradient are the same."
        ),
    )
    loss_on: LossOn = field(
        default="assistant",
        metadata=_help("'assistant': loss on assistant tokens only; 'all': every token."),
    )
    gradient_checkpointing: bool = field(
        default=True, metadata=_help("Recompute activations in backward to save memory.")
    )
    # --- optimisation ----------------------------------------------------------------------
    learning_rate: float = field(default=2e-4, metadata=_help("Peak learning rate."))
    lr_scheduler_type: Scheduler = field(
        default="linear", metadata=_help("'linear' (warm-up then linear decay) or 'constant'.")
    )
    warmup_ratio: float = field(
        default=0.03, metadata=_help("Share of total steps spent warming up (ceil).")
    )
    max_grad_norm: float = field(default=0.3, metadata=_help("Gradient clipping norm."))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay."))
    optim: Optimizer = field(
        default="adamw_8bit",
        metadata=_help("Optimizer; the 8-bit ones need bitsandbytes on CUDA (AdamW on CPU)."),
    )
    seed: int = field(default=42, metadata=_help("Seed for the split, data order and torch."))
    # --- where it runs ---------------------------------------------------------------------
    backend: Backend = field(
        default="auto",
        metadata=_help(
            "'auto' picks unsloth (CUDA, cc >= 7.0, importable), else hf-bnb (CUDA), else cpu-lora."
        ),
    )
    precision: Precision = field(
        default="auto",
        metadata=_help(
            "'auto': bf16 from compute capability 8.0, fp16 below (CUDA); 'fp16' forces fp16 "
            "with a gradient scaler; 'bf16' is refused below 8.0 (emulated there). CPU: fp32."
        ),
    )
    device_profile: str | None = field(
        default=None,
        metadata=_help(
            "Simulate a card on CPU for the demo (p100, t4, a100, h200): its name, compute "
            "capability and the dtype policy's choice are recorded next to what really ran."
        ),
    )
    # --- session budget and handoff --------------------------------------------------------
    session_budget: str | None = field(
        default=None,
        metadata=_help("Wall-clock budget of this session, e.g. '5h30m', '45m', '90s'."),
    )
    deadline: str | None = field(
        default=None,
        metadata=_help("Absolute end of this session, ISO 8601 with a time zone."),
    )
    budget_margin_s: float = field(
        default=30.0,
        metadata=_help("Seconds kept free at the end of the budget besides the bundle write."),
    )
    checkpoint_every_steps: int = field(
        default=50, metadata=_help("Write a bundle every N optimizer steps; 0 = only at the end.")
    )
    checkpoint_async: bool = field(
        default=True,
        metadata=_help(
            "Upload periodic bundles from a background thread (training goes on meanwhile)."
        ),
    )
    eval_every_steps: int = field(
        default=0, metadata=_help("Eval loss every N steps; 0 = at the end of each session.")
    )
    save_optimizer: bool = field(
        default=True,
        metadata=_help(
            "Save optimizer.pt in bundles so a resume keeps the Adam moments and continues the "
            "run step for step (7B adapter, 8-bit AdamW: 255 MB bundles instead of 168 MB); "
            "false resumes with fresh moments."
        ),
    )
    resume: str | None = field(
        default=None,
        metadata=_help("'auto' (latest committed bundle of run_name) or NAME@VERSION."),
    )
    resume_mode: ResumeMode = field(
        default="restore",
        metadata=_help(
            "'restore': step, schedule and data order continue; 'naive': only the adapter "
            "weights carry over (the paper's handoff, kept for comparison)."
        ),
    )
    # --- outputs ---------------------------------------------------------------------------
    output_dir: str = field(
        default="out/train", metadata=_help("Local working folder (bundle staging, exports).")
    )
    store_url: str | None = field(
        default=None,
        metadata=_help("Object store for bundles; default ADVISOR_STORE_URL."),
    )
    export_merged: bool = field(
        default=False,
        metadata=_help("Also write the base merged with the adapter as fp16 safetensors."),
    )
    report_to: ReportTo = field(
        default="none",
        metadata=_help(
            "Also send loss, LR, grad norm, tokens/s and eval loss to 'tensorboard' (event "
            "files in logging_dir, offline), 'mlflow' (MLFLOW_TRACKING_URI) or 'wandb' "
            "(WANDB_PROJECT, WANDB_MODE); each needs its library (extras of advisor-trainer)."
        ),
    )
    logging_dir: str | None = field(
        default=None,
        metadata=_help("TensorBoard event files; default <output_dir>/runs/<run_name>."),
    )

    def __post_init__(self) -> None:
        _coerce_and_check_types(self)
        _check_values(self)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrainingJobConfig:
        """Build from a mapping; unknown keys are refused with the closest known name."""
        if not isinstance(values, dict):
            raise ConfigError("a training config must be a mapping of field: value")
        known = {f.name for f in dataclasses.fields(cls)}
        values = _without_removed_fields(values)
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown config field {str(key)[:80]!r}{hint}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: Path) -> TrainingJobConfig:
        """Read a YAML mapping of fields (the `advisor train --config FILE` format)."""
        return cls.from_mapping(cls.read_yaml(path))

    @staticmethod
    def read_yaml(path: Path) -> dict[str, Any]:
        """The field values a YAML config file sets, not yet validated."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must be a mapping of field: value")
        return values

    def with_overrides(self, **changes: Any) -> TrainingJobConfig:
        """A copy with `changes` applied and validated."""
        return self.from_mapping({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe field values (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @property
    def data_seed(self) -> int:
        """The data order is a pure function of (data_seed, epoch)."""
        return self.seed


def _without_removed_fields(values: dict[str, Any]) -> dict[str, Any]:
    """`values` less the removed fields, each named in a FutureWarning (Python shows those by
    default, unlike DeprecationWarning: the person who wrote the config is the one to tell)."""
    for key in values:
        if key in REMOVED_FIELDS:
            message = f"config field {key!r} was removed and is ignored: {REMOVED_FIELDS[key]}"
            warnings.warn(message, FutureWarning, stacklevel=3)
    return {key: value for key, value in values.items() if key not in REMOVED_FIELDS}


def field_help() -> list[tuple[str, str, str]]:
    """(name, default, help) for every field, for `advisor train --help-config`."""
    rows = []
    for f in dataclasses.fields(TrainingJobConfig):
        default = f.default if f.default is not dataclasses.MISSING else None
        rows.append((f.name, repr(default), f.metadata.get("help", "")))
    return rows


def parse_override(text: str) -> tuple[str, Any]:
    """`field=value` from the command line; the value is read as a YAML scalar or list."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"override {text[:80]!r} must look like field=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return name.strip(), value


# --- validation --------------------------------------------------------------------------------


def _coerce_and_check_types(config: TrainingJobConfig) -> None:
    hints = typing.get_type_hints(TrainingJobConfig)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        coerced = _coerce(f.name, value, hints[f.name])
        if coerced is not value:
            object.__setattr__(config, f.name, coerced)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(name, value, inner)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{name}: {str(value)[:80]!r} is not one of {choices}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of names, got {str(value)[:80]!r}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {str(value)[:80]!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {str(value)[:80]!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # PyYAML reads '1e-4' (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {str(value)[:80]!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{name}: expected a non-empty string, got {str(value)[:80]!r}")
        return value
    return value


def _at_least(name: str, value: float | int, low: float) -> None:
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}")


def _within(name: str, value: float, low: float, high: float, *, high_open: bool = False) -> None:
    if value < low or value > high or (high_open and value == high):
        bracket = ")" if high_open else "]"
        raise ConfigError(f"{name} must be in [{low}, {high}{bracket}, got {value}")


def _check_values(c: TrainingJobConfig) -> None:
    try:
        validate_adapter_name(c.run_name)
    except InvalidNameError as exc:
        raise ConfigError(f"run_name: {exc}") from None
    _within("validation_fraction", c.validation_fraction, 0.0, 0.5)
    _at_least("lora_r", c.lora_r, 1)
    _at_least("lora_alpha", c.lora_alpha, 1)
    _within("lora_dropout", c.lora_dropout, 0.0, 1.0, high_open=True)
    if not c.lora_target_modules:
        raise ConfigError("lora_target_modules must name at least one module")
    _at_least("max_seq_len", c.max_seq_len, 16)
    _at_least("micro_batch_size", c.micro_batch_size, 1)
    _at_least("gradient_accumulation_steps", c.gradient_accumulation_steps, 1)
    if c.rows_per_pass is not None:
        _at_least("rows_per_pass", c.rows_per_pass, 1)
    _at_least("num_train_epochs", c.num_train_epochs, 1)
    if c.max_steps is not None:
        _at_least("max_steps", c.max_steps, 1)
    _at_least("length_group_size", c.length_group_size, 1)
    if not 0.0 < c.learning_rate <= 1.0:
        raise ConfigError(f"learning_rate must be in (0, 1], got {c.learning_rate}")
    _within("warmup_ratio", c.warmup_ratio, 0.0, 1.0, high_open=True)
    if c.max_grad_norm <= 0:
        raise ConfigError(f"max_grad_norm must be > 0, got {c.max_grad_norm}")
    _at_least("weight_decay", c.weight_decay, 0.0)
    _at_least("budget_margin_s", c.budget_margin_s, 0.0)
    _at_least("checkpoint_every_steps", c.checkpoint_every_steps, 0)
    _at_least("eval_every_steps", c.eval_every_steps, 0)
    if c.session_budget is not None and c.deadline is not None:
        raise ConfigError("give session_budget or deadline, not both")
    if c.device_profile is not None:
        from .device import DEVICE_PROFILES

        if c.device_profile not in DEVICE_PROFILES:
            known = ", ".join(sorted(DEVICE_PROFILES))
            raise ConfigError(f"device_profile {c.device_profile!r} is not one of {known}")
    if c.resume is not None and c.resume != "auto":
        try:
            BundleRef.parse(c.resume)
        except InvalidNameError as exc:
            raise ConfigError(f"resume: expected 'auto' or NAME@VERSION ({exc})") from None
