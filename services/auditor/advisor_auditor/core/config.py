"""The auditor's settings: `ADVISOR_*` environment variables, one class."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from advisor_shared.settings import AdvisorSettings


class Settings(AdvisorSettings):
    """Auditor settings; see docs/auditor.md for what each changes."""

    # Retrieval re-ranking encoder: the packaged MiniLM alias, a local folder or a hub id.
    auditor_encoder: str = "all-minilm-l6-v2"
    # Conversations per Celery task: small enough that a lost worker redoes little.
    auditor_chunk_size: int = 25
    # Optional LLM verifier and claim decomposer (any OpenAI-compatible endpoint). Unset: the
    # deterministic checks alone decide, which is the offline default (no NLI model ships).
    auditor_llm_base_url: str | None = None
    auditor_llm_api_key: SecretStr | None = None
    auditor_llm_model: str | None = None
    auditor_llm_decompose: bool = False
    # The source corpus audits verify against when a request names none (a folder).
    auditor_sources: Path | None = None
    # Training data for lineage: answer errors are traced to the examples asserting them.
    auditor_training_data: Path | None = None
    # Largest request body accepted by the HTTP API.
    auditor_max_body_bytes: int = 1024 * 1024

    def _requires_api_keys(self) -> bool:
        return True
