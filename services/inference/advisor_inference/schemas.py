"""Wire models: the OpenAI chat-completions shapes, and the admin API's adapter shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .engines.base import MAX_TOP_LOGPROBS

MAX_MESSAGES = 256
MAX_STOP_STRINGS = 4


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # `developer` is OpenAI's newer name for the system role.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = Field(default=None, max_length=64)

    def as_template_message(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(
            part.text for part in self.content
        )  # fmt: skip
        role = "system" if self.role == "developer" else self.role
        return {"role": role, "content": text}


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionCreate(BaseModel):
    """`POST /v1/chat/completions`. Unknown fields are ignored, as OpenAI's own server does;
    known fields this server cannot honour are refused with a 400 that says so."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    tools: list[Any] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int) -> int:
        if value != 1:
            raise ValueError("only n=1 is supported: send one request per completion")
        return value

    @field_validator("stop")
    @classmethod
    def _bounded_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOP_STRINGS or any(not s or len(s) > 200 for s in stops):
            raise ValueError(
                f"stop takes up to {MAX_STOP_STRINGS} non-empty strings of ≤ 200 chars"
            )
        return value

    @field_validator("top_logprobs")
    @classmethod
    def _top_needs_logprobs(cls, value: int | None, info: ValidationInfo) -> int | None:
        # OpenAI's rule: alternatives are only reported alongside the chosen tokens' logprobs.
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("top_logprobs needs logprobs set to true")
        return value

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> ChatCompletionCreate:
        if self.tools:
            raise ValueError("tools are not supported by this server")
        if self.presence_penalty or self.frequency_penalty:
            raise ValueError("presence_penalty and frequency_penalty are not supported")
        return self

    @property
    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "advisor-stack"
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]


class AdapterCreate(BaseModel):
    """`POST /v1/adapters`: `{"adapter": "name@version"}`, or just the name for the latest."""

    model_config = ConfigDict(extra="forbid")
    adapter: str = Field(min_length=1, max_length=100)


class CanaryPublic(BaseModel):
    prompts: int
    differing: int
    effective: bool


class ChatTemplatePublic(BaseModel):
    trained_sha256: str
    serving_sha256: str | None
    match: bool


class AdapterPublic(BaseModel):
    name: str
    version: str
    base_model: str
    base_fingerprint: str
    rank: int
    lora_alpha: float
    target_modules: list[str]
    chat_template: ChatTemplatePublic
    template_mismatch: bool
    canary: CanaryPublic
    loaded_at: str
    warnings: list[str]


class AdapterList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AdapterPublic]
