"""The gateway's settings: `ADVISOR_*` environment variables (the only place they are read)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from advisor_shared.api.app import DEFAULT_MAX_BODY_BYTES
from advisor_shared.lora_checks import DEFAULT_MAX_LORA_RANK, DEFAULT_TARGET_MODULES
from advisor_shared.models import EMBEDDED_BASE
from advisor_shared.settings import AdvisorSettings


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(AdvisorSettings):
    """Inference gateway settings. Defaults serve the embedded model with the HF engine."""

    engine: Literal["hf", "vllm"] = "hf"
    # Base model: the embedded alias, a local folder or a hub id; served under `base_alias`.
    base_model: str = EMBEDDED_BASE
    base_alias: str = "base"
    # Fingerprint of the base weights; computed from a local folder when unset.
    base_fingerprint: str | None = None
    # sha256 of the engine's chat template; read from the tokenizer (hf), from a local base
    # folder, or from vLLM's own copy of the model (vllm_hf_cache). Set it only to override.
    chat_template_sha256: str | None = None
    # Adapters loaded at start-up, `name@version` or `name` (= latest), comma-separated.
    adapters: Annotated[list[str], NoDecode] = []
    # A merged export (adapter folded into the base) served as its own model name.
    merged_model_path: Path | None = None
    merged_model_name: str | None = None

    # Admission control (docs/reliability.md, F10 and F11).
    max_in_flight: int = Field(default=32, ge=1)
    # ... and per API key, so one client cannot hold every slot (None: the global limit).
    max_in_flight_per_key: int | None = Field(default=16, ge=1)
    retry_after_s: int = Field(default=2, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)

    # Adapter checks (docs/reliability.md, F6; docs/design.md, lesson 1).
    max_lora_rank: int = Field(default=DEFAULT_MAX_LORA_RANK, ge=1)
    allowed_target_modules: Annotated[list[str], NoDecode] = list(DEFAULT_TARGET_MODULES)
    template_mismatch: Literal["refuse", "flag"] = "refuse"
    canary_policy: Literal["report", "refuse"] = "report"
    canary_max_tokens: int = Field(default=8, ge=1, le=64)
    # Where verified bundles are unpacked; with vLLM, a volume both containers mount.
    adapter_dir: Path | None = None

    # HF engine.
    device: str = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    max_batch_size: int = Field(default=8, ge=1)
    batch_window_ms: float = Field(default=5.0, ge=0)
    max_model_len: int | None = Field(default=None, ge=16)
    # Decode over a preallocated KV cache with CUDA graphs ("static"), through transformers'
    # forward ("dynamic"), or static on CUDA where the architecture allows it ("auto").
    decode: Literal["auto", "static", "dynamic"] = "auto"
    # Serve the base in 4-bit NormalFloat (bitsandbytes, CUDA only): a 7B model on a 16 GB card.
    quantization: Literal["nf4"] | None = None
    # CPU threads for torch (None: torch's default). On a small shared host, 1 avoids OpenMP
    # threads spinning against each other: a batch-8 decode step measured 6 s with 2 threads
    # and 0.3 s with 1 on a loaded 2-core machine.
    torch_threads: int | None = Field(default=None, ge=1)
    # Cap on completion length when a request sets none (a CPU engine must not run for minutes).
    default_max_tokens: int | None = Field(default=512, ge=1)

    # vLLM engine (private network only, docs/reliability.md, F9).
    vllm_url: str = "http://127.0.0.1:8100"
    # The model name vLLM serves the base under (`--served-model-name`); default: base_model.
    vllm_served_model: str | None = None
    # The adapter folder as vLLM sees it (its mount point of `adapter_dir`).
    vllm_adapter_dir: str | None = None
    vllm_timeout_s: float = Field(default=600.0, gt=0)
    # A second vLLM server holding the merged export, if one is served.
    vllm_merged_url: str | None = None
    # vLLM's Hugging Face hub cache as mounted (read-only) in the gateway: the chat template
    # vLLM serves is read from the snapshot it downloaded.
    vllm_hf_cache: Path | None = None
    # How often the gateway checks that vLLM still holds every loaded adapter (it forgets them
    # when it restarts) and registers the missing ones again.
    vllm_sync_interval_s: float = Field(default=15.0, gt=0)

    # The adapters loaded through the API are recorded in the store and loaded again when the
    # gateway starts. Gateways sharing one store and engine share one set; a separate gateway
    # on the same store names its own.
    persist_adapters: bool = True
    adapter_set: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")

    # The console at /ui (docs/console.md): the job services' APIs it reads (each call carries
    # the signed-in user's own key), and where Flower, if deployed, is reached. Unset: that part
    # of the console says it is not configured.
    console_enabled: bool = True
    evaluator_url: str | None = None
    auditor_url: str | None = None
    trainer_url: str | None = None
    flower_url: str | None = None
    # How long a console sign-in lasts.
    console_session_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Seconds the console waits for a job service to answer.
    console_backend_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("evaluator_url", "auditor_url", "trainer_url", "flower_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("adapters", "allowed_target_modules", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_csv(value)

    def _requires_api_keys(self) -> bool:
        return True

    def resolved_adapter_dir(self) -> Path:
        return self.adapter_dir or self.cache_dir / "served-adapters"
