"""Model families, to warn when the judge may prefer its own kind (self-preference bias)."""

from __future__ import annotations

import re

# Ordered: the first match names the family ("mixtral" before "mistral" is not needed, since
# the two are one family for self-preference purposes).
FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern, re.IGNORECASE))
    for family, pattern in (
        ("mistral", r"mistral|mixtral|ministral"),
        ("llama", r"llama"),
        ("smollm", r"smollm"),
        ("qwen", r"qwen"),
        ("gemma", r"gemma"),
        ("gemini", r"gemini"),
        ("phi", r"(?:^|[^a-z])phi-?\d"),
        ("claude", r"claude|sonnet|opus|haiku"),
        ("gpt", r"(?:^|[^a-z])gpt|(?:^|[^a-z])o[134](?:-|$)"),
        ("deepseek", r"deepseek"),
        ("falcon", r"falcon"),
    )
)


def family_of(name: str | None) -> str | None:
    """The family a model name (or hub id, or base-model id of an adapter) belongs to."""
    if not name:
        return None
    for family, pattern in FAMILIES:
        if pattern.search(name):
            return family
    return None


def shared_family_warning(judge_model: str, candidate_lineage: dict[str, list[str]]) -> str | None:
    """A warning naming the candidates whose family (own name or base model) is the judge's.

    `candidate_lineage` maps each candidate to the names that describe it: its own name and,
    for an adapter, its base model id."""
    judge_family = family_of(judge_model)
    if judge_family is None:
        return None
    shared = sorted(
        candidate
        for candidate, names in candidate_lineage.items()
        if any(family_of(n) == judge_family for n in names)
    )
    if not shared:
        return None
    return (
        f"the judge {judge_model!r} is of the {judge_family} family, like candidate(s) "
        f"{', '.join(repr(s) for s in shared)}: self-preference may bias its verdicts"
    )
