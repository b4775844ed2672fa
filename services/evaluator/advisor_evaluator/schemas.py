"""Wire models of the evaluation API; `advisor eval --config FILE` reads the same shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from advisor_shared.errors import InvalidNameError
from advisor_shared.jobs import JobStatus, StageProgress
from advisor_shared.store import validate_key

Metric = Literal["bertscore", "rouge_l", "judge", "factuality"]
ALL_METRICS: tuple[Metric, ...] = ("bertscore", "rouge_l", "judge", "factuality")
REFERENCE_METRICS: frozenset[str] = frozenset({"bertscore", "rouge_l"})
MAX_ITEMS = 5000
MAX_TEXT = 32_000


def _store_key(value: str | None) -> str | None:
    """A key the object store accepts, refused here (400) rather than deep in a read."""
    if value is None:
        return value
    try:
        return validate_key(value)
    except InvalidNameError as exc:
        raise ValueError(str(exc)) from None


class InlineItem(BaseModel):
    """One prompt, with the reference answer the reference metrics compare against."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    reference: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    topic: str | None = Field(default=None, max_length=100)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is blank")
        return value


class DatasetSource(BaseModel):
    """Prompts from a dataset in the object store (`key`) or given inline (`items`).

    From a dataset, the prompt is each conversation's first user turn and the reference its first
    assistant turn (the paper's single-turn protocol)."""

    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(
        default=None, min_length=1, max_length=1024, description="object-store key"
    )
    items: list[InlineItem] | None = Field(default=None, max_length=MAX_ITEMS)

    _key = field_validator("key")(_store_key)

    @model_validator(mode="after")
    def _exactly_one(self) -> DatasetSource:
        if (self.key is None) == (self.items is None):
            raise ValueError("give exactly one of `key` (a dataset in the store) or `items`")
        if self.items is not None and not self.items:
            raise ValueError("the prompt set is empty")
        return self


class SampleSettings(BaseModel):
    """Evaluate a seeded random sample (the paper: `random.Random(42)`, first 50)."""

    model_config = ConfigDict(extra="forbid")
    size: int = Field(ge=1, le=MAX_ITEMS)
    seed: int = 42


class GenerationSettings(BaseModel):
    """Pinned decoding, identical for every candidate. Default: greedy, 512 new tokens (paper)."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1, le=8192)
    seed: int | None = Field(default=None, ge=0)
    system_prompt: str | None = Field(default=None, max_length=MAX_TEXT)


class JudgeSettings(BaseModel):
    """The blind pairwise judge: a model of the inference API, or of one of the judge endpoints
    the operator configured (`ADVISOR_JUDGE_ENDPOINTS`), picked by name. A request never gives
    a URL or a key: the evaluator would call it with its own credentials (SSRF)."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, max_length=200)
    endpoint: str | None = Field(
        default=None, min_length=1, max_length=64, description="a configured judge endpoint"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_urls(cls, data: Any) -> Any:
        if isinstance(data, dict) and "base_url" in data:
            raise ValueError(
                "judge.base_url is not accepted: name a judge endpoint the operator configured "
                "(`endpoint`), or leave it out to judge with the inference API"
            )
        return data

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(
        default=512, ge=16, le=4096, description="for the free-text verdict (method `text`)"
    )
    method: Literal["auto", "logprobs", "text"] = Field(
        default="auto",
        description="`logprobs`: one token (A/B/tie) read from its probabilities; `text`: the "
        "JSON verdict parsed from free text; `auto`: logprobs, falling back to text for a "
        "judge whose endpoint returns none",
    )
    top_logprobs: int = Field(default=20, ge=5, le=20)


class HygieneSettings(BaseModel):
    """Prompt de-duplication and train/test overlap (docs/design.md, lesson 8)."""

    model_config = ConfigDict(extra="forbid")
    near_duplicate_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    exclude_training_overlap: bool = False


class EvaluationCreate(BaseModel):
    """`POST /v1/evaluations`."""

    model_config = ConfigDict(extra="forbid")
    dataset: DatasetSource
    training_dataset: str | None = Field(
        None, min_length=1, max_length=1024, description="store key of the training set"
    )
    candidates: list[str] = Field(min_length=1, max_length=8)
    baseline: str | None = Field(
        default=None, description="the candidate the others are compared with"
    )
    contrasts: list[tuple[str, str]] = Field(
        default_factory=list,
        max_length=8,
        description="pairs [a, b] of candidates also compared with each other, a − b item by "
        "item (e.g. a fine-tune on ungated data against one on gated data)",
    )
    metrics: list[Metric] = Field(default_factory=lambda: list(ALL_METRICS), min_length=1)
    judge: JudgeSettings | None = None
    generation: GenerationSettings = Field(default_factory=lambda: GenerationSettings())
    hygiene: HygieneSettings = Field(default_factory=lambda: HygieneSettings())
    sample: SampleSettings | None = None
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)
    bootstrap_seed: int = 42

    _training_dataset = field_validator("training_dataset")(_store_key)

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or len(name) > 200 or not name.isprintable():
                raise ValueError(f"invalid model name {name[:60]!r}")
        if len(set(names)) != len(names):
            raise ValueError("candidates must be distinct")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationCreate:
        if self.baseline is not None and self.baseline not in self.candidates:
            raise ValueError(f"baseline {self.baseline[:60]!r} is not one of the candidates")
        for first, second in self.contrasts:
            for name in (first, second):
                if name not in self.candidates:
                    raise ValueError(f"contrast names {name[:60]!r}, which is not a candidate")
            if first == second:
                raise ValueError(f"a contrast compares two candidates, not {first[:60]!r} twice")
        if "judge" in self.metrics:
            if self.judge is None:
                raise ValueError("metric `judge` needs `judge` settings (at least its model)")
            if len(self.candidates) < 2:
                raise ValueError("metric `judge` compares candidates: give at least two")
        self.metrics = list(dict.fromkeys(self.metrics))
        return self

    @property
    def baseline_name(self) -> str:
        return self.baseline or self.candidates[0]

    def public_request(self) -> dict[str, Any]:
        """The request as stored in the job record (inline items summarised, not copied)."""
        data = self.model_dump(mode="json")
        if self.dataset.items is not None:
            data["dataset"] = {"items": f"{len(self.dataset.items)} inline item(s)"}
        return data


class ResultLinks(BaseModel):
    report: str | None = None
    report_markdown: str | None = None
    plots: list[str] = []


class EvaluationPublic(BaseModel):
    """`GET /v1/evaluations/{id}`: status, per-stage progress, result links."""

    id: str
    status: JobStatus
    created_at: str
    updated_at: str
    stages: dict[str, StageProgress]
    error: str | None = None
    links: ResultLinks = Field(default_factory=ResultLinks)
    summary: dict[str, Any] = {}
    # Set while a cancel request waits for the units in flight (then the status is `cancelled`).
    cancel_requested_at: str | None = None
    # The request as stored (inline items summarised): candidates, metrics, sample…
    request: dict[str, Any] = {}
