"""Reference similarity per item: BERTScore (the `bert-score` package) and ROUGE-L F1.

Production uses roberta-large with bert-score's baseline rescale (the paper's setting, so values
around 0.1 are normal); the embedded default uses the packaged all-MiniLM-L6-v2 with 6 layers
and no rescale (bert-score ships no baseline for it). Texts are whitespace-normalised first, as
in the paper. The scorer is loaded once per process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from advisor_shared.models import encoder_path

from .generation import plan_item
from .pipeline import WorkUnit
from .results import JobResults, generation_key

_SPACE = re.compile(r"\s+")


def normalise_whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=2)
def _bert_scorer(encoder: str, num_layers: int | None, rescale: bool) -> Any:
    from bert_score import BERTScorer

    options: dict[str, Any] = {"model_type": encoder_path(encoder), "lang": "en",
                               "rescale_with_baseline": rescale, "batch_size": 16}  # fmt: skip
    if num_layers is not None:
        options["num_layers"] = num_layers
    return BERTScorer(**options)


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def bertscore(candidate: str, reference: str, config: dict[str, Any]) -> dict[str, float]:
    """BERTScore precision, recall and F1 of one candidate against one reference."""
    scorer = _bert_scorer(config["encoder"], config["num_layers"], config["rescale"])
    precision, recall, f1 = scorer.score(
        [normalise_whitespace(candidate)], [normalise_whitespace(reference)]
    )
    return {"precision": float(precision[0]), "recall": float(recall[0]), "f1": float(f1[0])}


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 with stemming (the paper's `rouge_score` setting)."""
    score = _rouge_scorer().score(normalise_whitespace(reference), normalise_whitespace(candidate))
    return float(score["rougeL"].fmeasure)


def score_unit(plan: dict[str, Any], results: JobResults, unit: WorkUnit) -> None:
    """Score one stored answer against its item's reference and store the figures."""
    item = plan_item(plan, str(unit.item))
    answer = results.get(generation_key(unit.candidate, str(unit.item)))["text"]
    reference = item["reference"] or ""
    record: dict[str, Any] = {"candidate": unit.candidate, "item": unit.item}
    if "bertscore" in plan["metrics"]:
        record["bertscore"] = bertscore(answer, reference, plan["bertscore"])
    if "rouge_l" in plan["metrics"]:
        record["rouge_l"] = rouge_l(answer, reference)
    results.put_once(unit.result_key, record)
