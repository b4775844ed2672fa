"""One OpenAI-compatible endpoint (the gateway, or any judge) through the official client.

Failures are sorted into the two kinds the pipeline treats differently: `EndpointUnavailable`
(connection errors, timeouts, 429, 5xx — retried here briefly, then by the task with a longer
backoff) and `EndpointRejected` (other 4xx — retrying cannot help; the job fails with the reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ..errors import EndpointRejected, EndpointUnavailable

log = logging.getLogger(__name__)
# The gateway states which chat template rendered the prompt (docs/design.md, lesson 1).
TEMPLATE_HEADER = "x-advisor-chat-template-sha256"
# ... and flags an adapter served with a template other than its training one.
TEMPLATE_MISMATCH_HEADER = "x-advisor-template-mismatch"


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None
    template_sha256: str | None
    completion_tokens: int | None
    template_mismatch: str | None = None
    # With `top_logprobs` asked: the first generated token's alternatives, `(token, logprob)`,
    # the chosen one included; None when the endpoint returned no logprobs.
    first_token_top: list[tuple[str, float]] | None = None


def _classify(exc: Exception, what: str) -> Exception:
    if isinstance(exc, openai.APIConnectionError | openai.APITimeoutError):
        return EndpointUnavailable(f"{what}: endpoint unreachable ({type(exc).__name__})")
    if isinstance(exc, openai.APIStatusError):
        # The endpoint's own body stays in the log: it could be anything the URL returns, and
        # these messages reach job records and API answers.
        log.warning("%s: HTTP %s: %.300s", what, exc.status_code, getattr(exc, "message", exc))
        if exc.status_code == 429 or exc.status_code >= 500:
            return EndpointUnavailable(f"{what}: HTTP {exc.status_code}")
        return EndpointRejected(f"{what}: HTTP {exc.status_code}")
    return exc


_retry_briefly = retry(
    retry=retry_if_exception_type(EndpointUnavailable),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)


class ChatEndpoint:
    """`GET /models` and `POST /chat/completions` on one base URL (ending in `/v1`)."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 600.0):
        self.base_url = base_url.rstrip("/")
        # The client insists on a key; an endpoint without auth ignores the header.
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key or "none", timeout=timeout_s, max_retries=0
        )

    @_retry_briefly
    def list_models(self) -> list[dict[str, Any]]:
        """Every model the endpoint serves, as the endpoint describes it (id first)."""
        try:
            page = self.client.models.list()
        except Exception as exc:  # noqa: BLE001 - re-raised as one of our two kinds
            raise _classify(exc, f"listing models at {self.base_url}") from exc
        return [model.model_dump() for model in page.data]

    @_retry_briefly
    def complete(
        self,
        model: str,
        messages: list[dict[str, str]],
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        seed: int | None = None,
        top_logprobs: int | None = None,
    ) -> Completion:
        """One non-streamed chat completion with pinned decoding; with `top_logprobs`, the
        token log-probabilities too (OpenAI's `logprobs` / `top_logprobs`)."""
        extra: dict[str, Any] = {} if seed is None else {"seed": seed}
        if top_logprobs is not None:
            extra |= {"logprobs": True, "top_logprobs": top_logprobs}
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                stream=False,
                **extra,
            )
            response: ChatCompletion = raw.parse()  # type: ignore[assignment]  # stream=False
        except Exception as exc:  # noqa: BLE001 - re-raised as one of our two kinds
            raise _classify(exc, f"chat completion with {model!r}") from exc
        if not response.choices:
            raise EndpointRejected(f"chat completion with {model!r}: the response has no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            template_sha256=raw.headers.get(TEMPLATE_HEADER),
            completion_tokens=usage.completion_tokens if usage else None,
            template_mismatch=raw.headers.get(TEMPLATE_MISMATCH_HEADER),
            first_token_top=_first_token_top(choice) if top_logprobs is not None else None,
        )


def _first_token_top(choice: Any) -> list[tuple[str, float]] | None:
    """The first token's alternatives with the token itself (an endpoint may list fewer
    alternatives than asked, or only the chosen token with `top_logprobs: 0`)."""
    content = choice.logprobs.content if choice.logprobs is not None else None
    if not content:
        return None
    first = content[0]
    found = [(first.token, first.logprob)]
    found += [(top.token, top.logprob) for top in first.top_logprobs or []]
    return found
