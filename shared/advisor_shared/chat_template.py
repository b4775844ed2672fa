"""Chat templates: taken from the tokenizer, known by their sha256 (docs/design.md, lesson 1)."""

from __future__ import annotations

import hashlib
from typing import Any

from .errors import AdvisorError


def template_fingerprint(template: str) -> str:
    """sha256 of the template text exactly as rendered by the tokenizer."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def tokenizer_template(tokenizer: Any) -> str:
    """The tokenizer's own chat template; refuse a tokenizer without one rather than guess."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # some tokenizers keep several named templates
        template = template.get("default")
    if not isinstance(template, str) or not template.strip():
        raise AdvisorError("the tokenizer has no chat template; set one explicitly")
    return template


class TemplateMismatchError(AdvisorError):
    """An adapter was trained with a different chat template than the one in use."""

    def __init__(self, what: str, expected: str, actual: str):
        self.expected, self.actual = expected, actual
        super().__init__(
            f"{what}: chat template mismatch (trained with sha256 {expected[:12]}…, "
            f"serving with {actual[:12]}…)"
        )
