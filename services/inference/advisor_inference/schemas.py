"""Wire models: the OpenAI chat-completions shapes, and the admin API's adapter shapes."""

from __future__ import annotations

from collections.abc import Callable
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
# Completions per request (`n`): each is a row of the engine's batch.
MAX_CHOICES = 8
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


def _is_unset(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


class ChatMessage(BaseModel):
    """A message. Fields the template cannot render are refused when they hold anything; the
    empty ones an OpenAI client echoes back with an assistant message (`refusal: null`,
    `tool_calls: []` ...) are accepted."""

    model_config = ConfigDict(extra="allow")
    # `developer` is OpenAI's newer name for the system role.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    @model_validator(mode="after")
    def _refuse_unrendered_fields(self) -> ChatMessage:
        used = sorted(k for k, v in (self.model_extra or {}).items() if not _is_unset(v))
        if used:
            raise ValueError(
                f"{', '.join(used)[:100]}: not supported in messages (the chat "
                "template renders only role and text content)"
            )
        return self

    def as_template_message(self) -> dict[str, str]:
        text = (
            self.content
            if isinstance(self.content, str)
            else "".join(part.text for part in self.content)
        )
        role = "system" if self.role == "developer" else self.role
        return {"role": role, "content": text}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False
    # OpenAI pads chunks against a side channel; nothing here to pad against: refused if asked.
    include_obfuscation: bool | None = None


class ChatCompletionCreate(BaseModel):
    """`POST /v1/chat/completions` with every parameter of OpenAI's API declared.

    Nothing is silently ignored. The parameters this server honours are typed and checked here;
    `completions.refuse_unsupported` answers 400 naming each one that holds a value it cannot
    honour (on every engine, or on this engine), and each unknown field, as OpenAI does."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    response_format: dict[str, Any] | None = None
    # Declared so that each is refused by name when it holds a value (see UNSUPPORTED).
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    functions: list[Any] | None = None
    function_call: Any = None
    audio: Any = None
    modalities: list[str] | None = None
    prediction: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    web_search_options: Any = None
    store: bool | None = None
    metadata: dict[str, Any] | None = None
    service_tier: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Any = None
    prompt_cache_options: Any = None
    moderation: Any = None

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

    @field_validator("logit_bias")
    @classmethod
    def _token_biases(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for token, bias in (value or {}).items():
            if not token.isdigit() or len(token) > 9:
                raise ValueError(f"keys must be token ids (got {token[:20]!r})")
            if not -100.0 <= bias <= 100.0:
                raise ValueError(f"biases must be between -100 and 100 (got {bias})")
        return value

    @field_validator("response_format")
    @classmethod
    def _known_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") not in RESPONSE_FORMATS:
            raise ValueError(f"type must be one of {', '.join(RESPONSE_FORMATS)}")
        if value is not None and value["type"] == "json_schema":
            schema = value.get("json_schema")
            if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
                raise ValueError("json_schema needs a `json_schema` object with a `name`")
        return value

    @property
    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def output_format(self) -> str:
        """The `response_format` type asked for; `text` when none was given."""
        return "text" if self.response_format is None else self.response_format["type"]

    @property
    def structured_output(self) -> bool:
        """JSON output asked for (`json_object` or `json_schema`), which needs the engine."""
        return self.output_format != "text"


def _accepted_values(*values: Any) -> Callable[[Any], bool]:
    return lambda value: _is_unset(value) or value in values


# Parameters no engine here honours, with the values that mean "not used" (those are accepted:
# clients send them as defaults). Anything else is refused with a 400 naming the parameter.
UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "tools": (_is_unset, "tool calling is not supported by this server"),
    "tool_choice": (_accepted_values("none"), "tool calling is not supported by this server"),
    "parallel_tool_calls": (_is_unset, "tool calling is not supported by this server"),
    "functions": (_is_unset, "function calling is not supported by this server"),
    "function_call": (_accepted_values("none"), "function calling is not supported"),
    "audio": (_is_unset, "audio output is not supported"),
    "modalities": (_accepted_values(["text"]), "only text output is supported"),
    "prediction": (_is_unset, "predicted outputs are not supported"),
    "reasoning_effort": (_is_unset, "the served models are not reasoning models"),
    "verbosity": (_is_unset, "verbosity is not supported"),
    "web_search_options": (_is_unset, "web search is not supported"),
    "store": (_accepted_values(False), "completions are not stored by this server"),
    "metadata": (
        _is_unset,
        "metadata is kept only with stored completions, which this server does not keep",
    ),
    "service_tier": (_accepted_values("auto", "default"), "this server has one service tier"),
    "user": (_is_unset, "end-user ids are not recorded by this server"),
    "safety_identifier": (_is_unset, "end-user ids are not recorded by this server"),
    "prompt_cache_key": (_is_unset, "prompt caching is not configurable here"),
    "prompt_cache_retention": (_is_unset, "prompt caching is not configurable here"),
    "prompt_cache_options": (_is_unset, "prompt caching is not configurable here"),
    "moderation": (_is_unset, "moderation is not offered by this server"),
}


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "advisor-stack"
    parent: str | None = None
    # The bundle (`name@version`) an adapter model is served from; an evaluator reads it.
    adapter: str | None = None


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


class StoredBundlePublic(BaseModel):
    """A committed bundle in the store, and whether this gateway serves it."""

    name: str
    version: str
    base_model: str | None
    base_fingerprint: str | None
    chat_template_sha256: str | None
    created_at: str | None
    # Trained on the base this engine serves (the fingerprints match): loadable here.
    same_base: bool
    loaded: bool
    problem: str | None = None


class AdapterList(BaseModel):
    """Loaded adapters (`data`), and with `GET /v1/adapters`, every bundle in the store."""

    object: Literal["list"] = "list"
    data: list[AdapterPublic]
    stored: list[StoredBundlePublic] | None = None
