"""The prompts of an evaluation: loaded from a dataset in the store or given inline."""

from __future__ import annotations

import random

from advisor_shared.dataset import parse_lines
from advisor_shared.errors import ObjectNotFoundError, StoreError
from advisor_shared.store import ObjectStore

from ..errors import EvaluationInputError
from ..schemas import REFERENCE_METRICS, EvaluationCreate
from ..scoring.items import EvalItem, item_key


def load_conversations_text(store: ObjectStore, key: str, param: str) -> str:
    """The raw JSONL of a dataset in the store, with a 400-worthy error if it is missing."""
    try:
        return store.get_bytes(key).decode("utf-8")
    except (ObjectNotFoundError, StoreError):
        raise EvaluationInputError(
            f"dataset {key[:200]!r} is not in the object store",
            param=param,
            code="dataset_not_found",
        ) from None
    except UnicodeDecodeError:
        raise EvaluationInputError(
            f"dataset {key[:200]!r} is not UTF-8 text", param=param
        ) from None


def first_user_turns(store: ObjectStore, key: str, param: str) -> list[tuple[str, str]]:
    """(id, first user turn) of every conversation of a stored dataset."""
    conversations, problems = parse_lines(
        load_conversations_text(store, key, param).splitlines(), key
    )
    if problems:
        raise EvaluationInputError(
            f"dataset {key[:200]!r} has {len(problems)} invalid line(s); first: {problems[0][:300]}",
            param=param,
            code="invalid_dataset",
        )
    return [(c.id, c.first_user_turn) for c in conversations]


def load_items(spec: EvaluationCreate, store: ObjectStore) -> list[EvalItem]:
    """The prompts of `spec`, sampled if asked; refuse an empty set and missing references."""
    raw: list[tuple[str, str, str | None, str | None]]
    if spec.dataset.key is not None:
        text = load_conversations_text(store, spec.dataset.key, "dataset.key")
        conversations, problems = parse_lines(text.splitlines(), spec.dataset.key)
        if problems:
            raise EvaluationInputError(
                f"dataset has {len(problems)} invalid line(s); first: {problems[0][:300]}",
                param="dataset.key",
                code="invalid_dataset",
            )
        raw = [(c.id, c.first_user_turn, c.first_assistant_turn, c.topic) for c in conversations]
    else:
        raw = [
            (item.id or f"item-{n + 1}", item.prompt, item.reference, item.topic)
            for n, item in enumerate(spec.dataset.items or [])
        ]
    if not raw:
        raise EvaluationInputError(
            "the prompt set is empty", param="dataset", code="empty_prompt_set"
        )
    ids = [r[0] for r in raw]
    if len(set(ids)) != len(ids):
        raise EvaluationInputError("item ids must be distinct", param="dataset.items")
    if spec.sample is not None and spec.sample.size < len(raw):
        order = list(range(len(raw)))
        random.Random(spec.sample.seed).shuffle(order)  # the paper's sampling, seed 42
        raw = [raw[i] for i in order[: spec.sample.size]]
    if REFERENCE_METRICS & set(spec.metrics):
        missing = [r[0] for r in raw if not r[2]]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise EvaluationInputError(
                f"{len(missing)} item(s) have no reference, needed by "
                f"{'/'.join(sorted(REFERENCE_METRICS & set(spec.metrics)))}: {shown}",
                param="dataset",
                code="references_missing",
            )
    return [
        EvalItem(item_key(n), id_, prompt, reference, topic)
        for n, (id_, prompt, reference, topic) in enumerate(raw)
    ]
