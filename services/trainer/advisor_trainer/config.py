"""The training job config: one documented pydantic model, in the style of TRL's `SFTConfig`.

Defaults are the paper's recipe (docs/paper.md §2.1): LoRA r=16, alpha=32, dropout 0 on all seven
projections, NF4 with double quantisation, sequences of 2048 tokens, micro-batch 2 x gradient
accumulation 4, 3 epochs, LR 2e-4 with a linear schedule and 3% warm-up, max grad norm 0.3,
8-bit AdamW, seed 42 and LoRA init seed 3407.

Defaults that differ from the paper's code, each a lesson of docs/design.md:

- `loss_on="assistant"`: the paper's loss covered human turns too (lesson 2);
- `validation_fraction=0.05`: the paper logged no validation loss (docs/paper.md §2.3);
- `length_grouping=True`: batches of similar length, so padding does not dominate (docs/gpu.md);
- `packing=True`: the conversations of a step share rows without padding, attention kept
  within each conversation (`advisor_trainer.data.packing`); the step's conversations, its loss and
  the data order are those of the unpacked step;
- the chat template comes from the tokenizer, not `Human:/Assistant:` text (lesson 1);
- on CPU, `optim="adamw_8bit"` runs as plain AdamW (bitsandbytes is CUDA-only); the ledger
  records the optimizer actually used.

A config comes from a YAML file (`TrainingJobConfig.from_yaml`), a mapping (the HTTP API) or
`field=value` overrides (the CLI). Every construction is validated, strictly (a YAML `"8"` is
no integer, `yes` no boolean): an unknown field, a wrong type or a value out of range raises
`ConfigError` naming the field. A field that was removed
(`REMOVED_FIELDS`) is accepted, ignored and named in a `FutureWarning`, so that a config
written for an older version still runs instead of losing the job.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import annotated_types
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

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
Precision = Literal["auto", "bf16", "fp16", "fp32"]
ReportTo = Literal["none", "tensorboard", "mlflow", "wandb"]


# Fields that no longer exist, with why: still accepted (and ignored) in a config, with a warning.
REMOVED_FIELDS = {
    "flat_optimizer": "the optimizer always runs per tensor now: updating the adapter as one "
    "flat buffer gained the trainer less than 3 % on the H200 (docs/trainer.md)",
}


def _as_float(value: Any) -> Any:
    """An int, or a string that spells a number (PyYAML reads '1e-4', with no dot, as a
    string), as the float it is; anything else as it came, for the type check to refuse."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _names_from_text(value: Any) -> Any:
    """'q_proj, v_proj' (a command-line override) or a YAML list, as a tuple of names."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value) if isinstance(value, list) else value


Text = Annotated[str, StringConstraints(pattern=r"\S")]  # not empty, not only blanks
Number = Annotated[float, BeforeValidator(_as_float)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names_from_text)]


class TrainingJobConfig(BaseModel):
    """Everything a training job needs; see the module docstring for the defaults' origin."""

    # --- what to train ---------------------------------------------------------------------
    run_name: Text = Field(
        default="advisor",
        description="Run name = adapter name; bundles go to adapters/<run_name>/<version>/.",
    )
    base_model: Text = Field(
        default=PRODUCTION_BASE,
        description=(
            "Base model: 'smollm2-135m-instruct' (embedded), a local folder, or a hub id "
            "(needs the local Hugging Face cache when the hub is offline)."
        ),
    )
    dataset: Text = Field(
        default="data/sample/train.jsonl",
        description=(
            "Training conversations: JSONL (ours, OpenAI/TRL chat messages, ShareGPT), parquet, "
            "Arrow, or a datasets save_to_disk folder (its train split)."
        ),
    )
    validation_fraction: Number = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Share of conversations held out for eval loss (seeded split); 0 = none.",
    )
    # --- LoRA ------------------------------------------------------------------------------
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: Number = Field(
        default=0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA path."
    )
    lora_target_modules: Names = Field(
        default=ALL_PROJECTIONS,
        min_length=1,
        description="Linear layers that get an adapter (default: all seven projections).",
    )
    lora_init_seed: int = Field(
        default=3407, description="Seed for the LoRA A matrices' initialisation."
    )
    # --- quantisation (GPU backends) -------------------------------------------------------
    load_in_4bit: bool = Field(
        default=True, description="Load the base in 4 bits on CUDA (ignored on CPU)."
    )
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = Field(
        default="nf4", description="bitsandbytes 4-bit data type."
    )
    bnb_4bit_use_double_quant: bool = Field(
        default=True, description="Quantise the quantisation constants too."
    )
    # --- sequence and batch ----------------------------------------------------------------
    max_seq_len: int = Field(
        default=2048, ge=16, description="Tokens per sequence; longer ones are truncated."
    )
    micro_batch_size: int = Field(default=2, ge=1, description="Sequences per forward pass.")
    gradient_accumulation_steps: int = Field(
        default=4, ge=1, description="Micro-batches per optimizer step."
    )
    num_train_epochs: int = Field(default=3, ge=1, description="Passes over the training split.")
    max_steps: int | None = Field(
        default=None,
        ge=1,
        description="Total optimizer steps; overrides num_train_epochs when set.",
    )
    length_grouping: bool = Field(
        default=True,
        description="Batch sequences of similar length together (seeded), to cut padding.",
    )
    length_group_size: int = Field(
        default=32,
        ge=1,
        description=(
            "Micro-batches per length group: a shuffled window of this many micro-batches "
            "is sorted by length, then the micro-batches are shuffled again."
        ),
    )
    packing: bool = Field(
        default=True,
        description=(
            "Pack each step's conversations into rows of up to max_seq_len tokens, no padding, "
            "attention kept within each conversation; a forward pass holds rows_per_pass "
            "rows. Falls back to padding where the model cannot take it."
        ),
    )
    rows_per_pass: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Packed rows per forward pass. Default: on CUDA as many as the memory measured "
            "free after loading holds (at least micro_batch_size, at most the step's "
            "conversations); micro_batch_size on the CPU. Fewer, fuller passes are faster; "
            "the step and its gradient are the same."
        ),
    )
    loss_on: LossOn = Field(
        default="assistant",
        description="'assistant': loss on assistant tokens only; 'all': every token.",
    )
    gradient_checkpointing: bool = Field(
        default=True, description="Recompute activations in backward to save memory."
    )
    # --- optimisation ----------------------------------------------------------------------
    learning_rate: Number = Field(default=2e-4, gt=0, le=1, description="Peak learning rate.")
    lr_scheduler_type: Scheduler = Field(
        default="linear", description="'linear' (warm-up then linear decay) or 'constant'."
    )
    warmup_ratio: Number = Field(
        default=0.03, ge=0.0, lt=1.0, description="Share of total steps spent warming up (ceil)."
    )
    max_grad_norm: Number = Field(default=0.3, gt=0, description="Gradient clipping norm.")
    weight_decay: Number = Field(default=0.0, ge=0.0, description="AdamW weight decay.")
    optim: Optimizer = Field(
        default="adamw_8bit",
        description="Optimizer; the 8-bit ones need bitsandbytes on CUDA (AdamW on CPU).",
    )
    seed: int = Field(default=42, description="Seed for the split, data order and torch.")
    # --- where it runs ---------------------------------------------------------------------
    backend: Backend = Field(
        default="auto",
        description=(
            "'auto' picks unsloth (CUDA, cc >= 7.0, importable), else hf-bnb (CUDA), else cpu-lora."
        ),
    )
    precision: Precision = Field(
        default="auto",
        description=(
            "'auto': bf16 from compute capability 8.0, fp16 below (CUDA); on a CPU bf16 where it "
            "is native (AMX or AVX-512 BF16), else fp32. 'fp16' forces fp16 with a gradient "
            "scaler; 'fp32' forces fp32; 'bf16' is refused where it would be emulated. The "
            "LoRA weights always stay in fp32."
        ),
    )
    device_profile: Text | None = Field(
        default=None,
        description=(
            "Simulate a card on CPU for the demo (p100, t4, a100, h200): its name, compute "
            "capability and the dtype policy's choice are recorded next to what really ran."
        ),
    )
    # --- session budget and handoff --------------------------------------------------------
    session_budget: Text | None = Field(
        default=None,
        description="Wall-clock budget of this session, e.g. '5h30m', '45m', '90s'.",
    )
    deadline: Text | None = Field(
        default=None,
        description="Absolute end of this session, ISO 8601 with a time zone.",
    )
    budget_margin_s: Number = Field(
        default=30.0,
        ge=0.0,
        description="Seconds kept free at the end of the budget besides the bundle write.",
    )
    checkpoint_every_steps: int = Field(
        default=50, ge=0, description="Write a bundle every N optimizer steps; 0 = only at the end."
    )
    checkpoint_async: bool = Field(
        default=True,
        description=(
            "Upload periodic bundles from a background thread (training goes on meanwhile)."
        ),
    )
    eval_every_steps: int = Field(
        default=0, ge=0, description="Eval loss every N steps; 0 = at the end of each session."
    )
    save_optimizer: bool = Field(
        default=True,
        description=(
            "Save optimizer.pt in bundles so a resume keeps the Adam moments and continues the "
            "run step for step (7B adapter, 8-bit AdamW: 255 MB bundles instead of 168 MB); "
            "false resumes with fresh moments."
        ),
    )
    resume: Text | None = Field(
        default=None,
        description="'auto' (latest committed bundle of run_name) or NAME@VERSION.",
    )
    resume_mode: ResumeMode = Field(
        default="restore",
        description=(
            "'restore': step, schedule and data order continue; 'naive': only the adapter "
            "weights carry over (the paper's handoff, kept for comparison)."
        ),
    )
    # --- outputs ---------------------------------------------------------------------------
    output_dir: Text = Field(
        default="out/train", description="Local working folder (bundle staging, exports)."
    )
    store_url: Text | None = Field(
        default=None,
        description="Object store for bundles; default ADVISOR_STORE_URL.",
    )
    export_merged: bool = Field(
        default=False,
        description="Also write the base merged with the adapter as fp16 safetensors.",
    )
    report_to: ReportTo = Field(
        default="none",
        description=(
            "Also send loss, LR, grad norm, tokens/s and eval loss to 'tensorboard' (event "
            "files in logging_dir, offline), 'mlflow' (MLFLOW_TRACKING_URI) or 'wandb' "
            "(WANDB_PROJECT, WANDB_MODE); each needs its library (extras of advisor-trainer)."
        ),
    )
    logging_dir: Text | None = Field(
        default=None,
        description="TensorBoard event files; default <output_dir>/runs/<run_name>.",
    )

    # Strict: a string is no integer and 1 is no boolean (numbers: see `_as_float`).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_first_problem(exc, values)) from None

    # --- rules beyond one field's type and range -------------------------------------------
    @field_validator("run_name")
    @classmethod
    def _adapter_name(cls, value: str) -> str:
        try:
            validate_adapter_name(value)
        except InvalidNameError as exc:
            raise ValueError(f"run_name: {exc}") from None
        return value

    @field_validator("device_profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        from .hardware.device import DEVICE_PROFILES

        if value is not None and value not in DEVICE_PROFILES:
            known = ", ".join(sorted(DEVICE_PROFILES))
            raise ValueError(f"device_profile {value!r} is not one of {known}")
        return value

    @field_validator("resume")
    @classmethod
    def _resume_target(cls, value: str | None) -> str | None:
        if value is not None and value != "auto":
            try:
                BundleRef.parse(value)
            except InvalidNameError as exc:
                raise ValueError(f"resume: expected 'auto' or NAME@VERSION ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_session_end(self) -> TrainingJobConfig:
        if self.session_budget is not None and self.deadline is not None:
            raise ValueError("give session_budget or deadline, not both")
        return self

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrainingJobConfig:
        """Build from a mapping; unknown keys are refused with the closest known name."""
        if not isinstance(values, dict):
            raise ConfigError("a training config must be a mapping of field: value")
        values = _without_removed_fields(values)
        return cls(**{str(key): value for key, value in values.items()})

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
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.model_dump().items()
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
    return [
        (name, repr(info.default), info.description or "")
        for name, info in TrainingJobConfig.model_fields.items()
    ]


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


# --- pydantic's errors in this module's words ---------------------------------------------------

# What a field of the wrong type expected, by pydantic's error type.
_EXPECTED = {
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a non-empty string",
    "string_pattern_mismatch": "expected a non-empty string",
    "tuple_type": "expected a list of names",
}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _first_problem(exc: ValidationError, values: dict[str, Any]) -> str:
    """One line naming the field: an unknown field first (as a typo explains what follows)."""
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    return _problem(errors[0], values)


def _problem(error: ErrorDetails, values: dict[str, Any]) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "value_error":  # this module's own rules say the field in their message
        return str(error.get("ctx", {}).get("error", error["msg"]))
    name = str(loc[0])
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, list(TrainingJobConfig.model_fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown config field {name[:80]!r}{hint}"
    if kind in _BOUND_ERRORS:
        return f"{name} must be {_bounds(name)}, got {error['input']}"
    if kind == "too_short":
        return f"{name} must name at least one module"
    given = values.get(name, error["input"])  # a whole list, where one item was wrong
    if kind == "literal_error":
        choices = ", ".join(map(repr, get_args(TrainingJobConfig.model_fields[name].annotation)))
        return f"{name}: {str(given)[:80]!r} is not one of {choices}"
    expected = _EXPECTED["tuple_type"] if len(loc) > 1 else _EXPECTED.get(kind, error["msg"])
    return f"{name}: {expected}, got {str(given)[:80]!r}"


def _bounds(name: str) -> str:
    """The range a field's constraints allow: '>= 1', '> 0' or an interval '[0.0, 1.0)'."""
    low = high = ""
    for bound in TrainingJobConfig.model_fields[name].metadata:
        if isinstance(bound, annotated_types.Ge):
            low = f"[{bound.ge}"
        elif isinstance(bound, annotated_types.Gt):
            low = f"({bound.gt}"
        elif isinstance(bound, annotated_types.Le):
            high = f"{bound.le}]"
        elif isinstance(bound, annotated_types.Lt):
            high = f"{bound.lt})"
    if low and high:
        return f"in {low}, {high}"
    if low:
        return (">= " if low[0] == "[" else "> ") + low[1:]
    return ("<= " if high[-1] == "]" else "< ") + high[:-1]
