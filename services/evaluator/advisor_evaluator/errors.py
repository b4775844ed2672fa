"""Errors of the evaluator's domain; routes map `EvaluationInputError` onto a 4xx."""

from __future__ import annotations

from advisor_shared.errors import AdvisorError


class EvaluationInputError(AdvisorError):
    """The request cannot be evaluated as given (unknown model, no prompts, no references...)."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str = "invalid_value",
        status: int = 400,
    ):
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


class EndpointUnavailable(AdvisorError):
    """An OpenAI-compatible endpoint did not answer (connection error, timeout, 429, 5xx): worth
    retrying with backoff."""


class EndpointRejected(AdvisorError):
    """An endpoint refused the request (4xx other than 429): retrying cannot help."""


class UnknownJudgeEndpoint(EndpointRejected):
    """A job names a judge endpoint that is not in `ADVISOR_JUDGE_ENDPOINTS` (any more)."""

    def __init__(self, name: str):
        super().__init__(f"no judge endpoint named {name[:64]!r} is configured")
        self.name = name


class JobCancelled(AdvisorError):
    """The job was cancelled while a unit waited on something long (an audit): the unit stops
    and stores nothing."""
