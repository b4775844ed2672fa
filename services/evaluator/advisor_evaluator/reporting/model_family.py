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


def shared_family_warning(
    judge_model: str, candidate_lineage: dict[str, list[str]], *, same_endpoint: bool = False
) -> str | None:
    """A warning naming the candidates the judge may favour as its own kind.

    `candidate_lineage` maps each candidate to the names that describe it: its own name and, for
    an adapter, its base model. With `same_endpoint` (the judge is served where the candidates
    are), a judge whose name is in a lineage IS that candidate or its base model."""
    itself = sorted(
        c for c, names in candidate_lineage.items() if same_endpoint and judge_model in names
    )
    judge_family = family_of(judge_model)
    shared = sorted(
        c
        for c, names in candidate_lineage.items()
        if c not in itself
        and judge_family is not None
        and any(family_of(n) == judge_family for n in names)
    )
    problems = []
    if itself:
        problems.append(
            f"the judge {judge_model!r} is candidate {', '.join(repr(c) for c in itself)} itself "
            "or its base model"
        )
    if shared:
        problems.append(
            f"the judge {judge_model!r} is of the {judge_family} family, like candidate(s) "
            f"{', '.join(repr(c) for c in shared)}"
        )
    if not problems:
        return None
    return "; ".join(problems) + ": self-preference may bias its verdicts"
