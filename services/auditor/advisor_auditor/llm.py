"""Optional LLM verification and claim decomposition through an OpenAI-compatible endpoint.

Off by default: no NLI model ships offline, and the deterministic checks decide alone. When
configured, the LLM only judges claims the deterministic checks left unverifiable, always sees
the retrieved evidence, and its "contradicted" is dropped to "unverifiable" when no evidence was
retrieved — the invariant that nothing is contradicted without a cited span holds for it too.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from .findings import Check, Evidence, Verdict
from .retrieval import Hit

log = logging.getLogger(__name__)
_VERIFY_PROMPT = (
    "You check one claim against source excerpts. Answer with JSON only: "
    '{{"verdict": "supported"|"contradicted"|"unverifiable", "reason": "..."}}. '
    "Use only the excerpts; if they do not settle the claim, answer unverifiable.\n\n"
    "Claim: {claim}\n\nExcerpts:\n{excerpts}"
)
_DECOMPOSE_PROMPT = (
    "Split the text into atomic, self-contained factual claims (one fact each; keep numbers, "
    "dates and names exactly as written). Answer with a JSON list of strings only.\n\n{text}"
)


class LlmVerifier:
    """Wraps an OpenAI-compatible chat endpoint; errors degrade to 'no opinion'."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60
    ):
        from openai import OpenAI

        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout_s)

    def _ask(self, prompt: str) -> Any:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
        )
        text = response.choices[0].message.content or ""
        match = re.search(r"(\{.*\}|\[.*\])", text, re.DOTALL)
        return json.loads(match.group(1)) if match else None

    def verify(self, claim: str, hits: list[Hit]) -> Check | None:
        """The LLM's verdict on `claim` given `hits`, or None when it cannot be had."""
        evidence = [
            Evidence(
                doc_path=h.span.doc_path,
                start=h.span.start,
                end=h.span.end,
                quote=h.span.text,
                title=h.span.title,
                score=round(h.score, 4),
            )
            for h in hits
        ]
        excerpts = "\n".join(f"[{i + 1}] {h.span.context_text}" for i, h in enumerate(hits))
        try:
            answer = self._ask(_VERIFY_PROMPT.format(claim=claim, excerpts=excerpts or "(none)"))
            verdict = Verdict(str(answer["verdict"]).lower())
        except Exception as exc:  # noqa: BLE001 - an unreachable verifier must not fail the audit
            log.warning("LLM verifier unavailable: %s", exc)
            return None
        if verdict is Verdict.CONTRADICTED and not evidence:
            verdict = Verdict.UNVERIFIABLE
        return Check(
            kind="llm",
            verdict=verdict,
            claimed=claim,
            error_class="number" if verdict is Verdict.CONTRADICTED else None,
            evidence=evidence if verdict is not Verdict.UNVERIFIABLE else evidence[:1],
            confidence=0.6,
            reason=str(answer.get("reason", ""))[:300],
        )

    def decompose(self, text: str) -> list[str]:
        """Atomic claims of `text`, or `[text]` when the endpoint fails."""
        try:
            answer = self._ask(_DECOMPOSE_PROMPT.format(text=text))
        except Exception as exc:  # noqa: BLE001
            log.warning("LLM decomposition unavailable: %s", exc)
            return [text]
        if isinstance(answer, list) and all(isinstance(a, str) for a in answer) and answer:
            return answer
        return [text]


def llm_from_settings(settings: Any) -> LlmVerifier | None:
    """The configured verifier, or None when no endpoint is set."""
    if not settings.auditor_llm_base_url or not settings.auditor_llm_model:
        return None
    key = settings.auditor_llm_api_key.get_secret_value() if settings.auditor_llm_api_key else None
    return LlmVerifier(settings.auditor_llm_base_url, settings.auditor_llm_model, key)
