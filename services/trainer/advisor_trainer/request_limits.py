"""What a training job submitted over HTTP may ask for: the operator's allow-list of base
models and ceilings on its sizes. The CLI trains whatever its user asks; the API runs on a
worker with the GPU, outbound network and the hub token, so it takes only what the operator
configured (`ADVISOR_TRAINER_*` settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor_shared.models import EMBEDDED_BASE

from .config import TrainingJobConfig
from .core.config import Settings
from .errors import ConfigError


class RequestLimitError(ConfigError):
    """A request field outside what this service allows; `param` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def allowed_base_model(value: Any, settings: Settings) -> str:
    """`value` if it is the embedded model or a configured hub id; a local folder under
    `trainer_models_dir` as its full path; otherwise a `RequestLimitError` listing what is."""
    allowed = [EMBEDDED_BASE, *settings.trainer_hub_models]
    if isinstance(value, str) and value in allowed:
        return value
    root = settings.trainer_models_dir
    if isinstance(value, str) and value.strip() and root is not None:
        candidate = Path(value) if Path(value).is_absolute() else root / value
        resolved, base = candidate.resolve(), root.resolve()
        if resolved.is_relative_to(base) and resolved != base and resolved.is_dir():
            return str(resolved)
    where = f", or a folder under {root}" if root is not None else ""
    raise RequestLimitError(
        "config.base_model",
        f"config.base_model {str(value)[:100]!r} is not allowed here: use one of "
        f"{', '.join(repr(a) for a in allowed)}{where} (ADVISOR_TRAINER_HUB_MODELS, "
        "ADVISOR_TRAINER_MODELS_DIR)",
    )


def check_sizes(config: TrainingJobConfig, settings: Settings) -> None:
    """Refuse, by name, a size above its ceiling (each has a setting)."""
    ceilings = {
        "max_steps": (config.max_steps, settings.trainer_max_steps),
        "micro_batch_size": (config.micro_batch_size, settings.trainer_max_micro_batch_size),
        "max_seq_len": (config.max_seq_len, settings.trainer_max_seq_len),
        "gradient_accumulation_steps": (
            config.gradient_accumulation_steps,
            settings.trainer_max_gradient_accumulation_steps,
        ),
        "num_train_epochs": (config.num_train_epochs, settings.trainer_max_epochs),
    }
    for name, (value, ceiling) in ceilings.items():
        if value is not None and value > ceiling:
            raise RequestLimitError(
                f"config.{name}",
                f"config.{name} {value} is above this service's limit of {ceiling} "
                f"(ADVISOR_TRAINER_MAX_{_setting_suffix(name)})",
            )


def check_session_budget(session_budget: str | None, settings: Settings) -> None:
    if session_budget is None:
        return
    from .training.budget import parse_duration

    try:
        seconds = parse_duration(session_budget)
    except Exception:  # noqa: BLE001 - the budget check that follows names the problem
        return
    if seconds > settings.trainer_max_session_budget_s:
        raise RequestLimitError(
            "session_budget",
            f"session_budget {session_budget[:32]!r} is above this service's limit of "
            f"{settings.trainer_max_session_budget_s:.0f} s (ADVISOR_TRAINER_MAX_SESSION_BUDGET_S)",
        )


def _setting_suffix(name: str) -> str:
    return {"num_train_epochs": "EPOCHS"}.get(name, name.upper())
