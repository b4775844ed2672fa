"""Errors the inference domain raises; the app maps each to the OpenAI error shape.

Domain code stays free of FastAPI: it raises these with the HTTP status a client should see,
and `main.create_app` installs one handler that turns them into `{"error": {...}}` bodies.
"""

from __future__ import annotations

from advisor_shared.errors import AdvisorError


class InferenceError(AdvisorError):
    """A request the gateway refuses or cannot serve, with the status a client should get."""

    status = 400
    code: str | None = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else type(self).code
        self.status = status if status is not None else type(self).status
        self.headers = headers or {}


class ModelNotFoundError(InferenceError):
    """The requested model name is neither the base alias, a loaded adapter, nor merged."""

    status = 404
    code = "model_not_found"


class InvalidParameterError(InferenceError):
    """A parameter is out of the range this engine can serve (e.g. `max_tokens`)."""

    code = "invalid_value"


class ContextLengthError(InferenceError):
    """The prompt alone does not fit in the engine's context window."""

    code = "context_length_exceeded"


class AdapterRefusedError(InferenceError):
    """A bundle failed a check before reaching the engine (docs/reliability.md, F6)."""

    status = 422
    code = "invalid_bundle"


class AdapterConflictError(InferenceError):
    status = 409
    code = "adapter_conflict"


class AdapterNotFoundError(InferenceError):
    status = 404
    code = "adapter_not_found"


class EngineUnavailableError(InferenceError):
    """The engine is still loading, or unreachable (vLLM down): retry later."""

    status = 503
    code = "engine_unavailable"


class UpstreamError(InferenceError):
    """The production engine answered with an error the gateway passes on."""

    status = 502
    code = "upstream_error"
