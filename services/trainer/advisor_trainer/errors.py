"""Errors the trainer raises for input a user can fix. Each message names what is wrong and,
where it helps, the numbers behind the refusal."""

from __future__ import annotations

from advisor_shared.errors import AdvisorError


class TrainerError(AdvisorError):
    """Base class for trainer errors a user can act on."""


class ConfigError(TrainerError):
    """A job config field is unknown, of the wrong type or out of range."""


class TrainingDataError(TrainerError):
    """The dataset cannot train anything (e.g. no assistant token survives truncation)."""


class MemoryBudgetError(TrainerError):
    """The estimated peak memory of the config exceeds what the device has."""


class SessionBudgetError(TrainerError):
    """The session budget or deadline leaves no time to train."""


class HandoffMismatchError(TrainerError):
    """A bundle to resume from was trained against another base model, chat template or
    training shape than the one configured now."""


class BackendUnavailableError(TrainerError):
    """The requested backend cannot run on this machine (no CUDA, package missing)."""
