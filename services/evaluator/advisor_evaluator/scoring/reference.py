"""Reference similarity per item: BERTScore (the `bert-score` package) and ROUGE-L F1.

Production uses roberta-large with bert-score's baseline rescale (the paper's setting, so values
around 0.1 are normal); the embedded default uses the packaged all-MiniLM-L6-v2 with 6 layers
and no rescale (bert-score ships no baseline for it). Texts are whitespace-normalised first, as
in the paper. The scorer is loaded once per process.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from advisor_shared.models import encoder_path

_SPACE = re.compile(r"\s+")
# Worker threads share one scorer; the lock keeps them from loading the encoder twice at once.
_SCORER_LOCK = threading.Lock()


def normalise_whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=2)
def _bert_scorer(encoder: str, num_layers: int | None, rescale: bool) -> Any:
    from bert_score import BERTScorer

    options: dict[str, Any] = {
        "model_type": encoder_path(encoder),
        "lang": "en",
        "rescale_with_baseline": rescale,
        "batch_size": 16,
    }
    if num_layers is not None:
        options["num_layers"] = num_layers
    return BERTScorer(**options)


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def bertscores(
    candidates: list[str], references: list[str], config: dict[str, Any]
) -> list[dict[str, float]]:
    """BERTScore precision, recall and F1 of each candidate against its reference (one batch).

    A pair with an empty side (a model that answered nothing) shares no token with the other,
    so it scores the floor: 0, or 0 rescaled by the baseline. bert-score itself cannot encode
    an empty text with current tokenizers, so such pairs never reach it."""
    with _SCORER_LOCK:
        scorer = _bert_scorer(config["encoder"], config["num_layers"], config["rescale"])
    pairs = [
        (normalise_whitespace(c), normalise_whitespace(r))
        for c, r in zip(candidates, references, strict=True)
    ]
    scored = [i for i, (c, r) in enumerate(pairs) if c and r]
    scores = [_floor(scorer, config["rescale"])] * len(pairs)
    if scored:
        precision, recall, f1 = scorer.score(
            [pairs[i][0] for i in scored], [pairs[i][1] for i in scored]
        )
        for i, p, r, f in zip(scored, precision, recall, f1, strict=True):
            scores[i] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return scores


def _floor(scorer: Any, rescale: bool) -> dict[str, float]:
    """The score of nothing in common: 0 on bert-score's raw scale, or 0 rescaled."""
    if not rescale:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    baseline = [float(b) for b in scorer.baseline_vals]
    p, r, f = ((0.0 - b) / (1.0 - b) for b in baseline)
    return {"precision": p, "recall": r, "f1": f}


def bertscore(candidate: str, reference: str, config: dict[str, Any]) -> dict[str, float]:
    """BERTScore of one candidate against one reference."""
    return bertscores([candidate], [reference], config)[0]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 with stemming (the paper's `rouge_score` setting)."""
    score = _rouge_scorer().score(normalise_whitespace(reference), normalise_whitespace(candidate))
    return float(score["rougeL"].fmeasure)


def reference_scores(
    answers: list[str], references: list[str], metrics: list[str], bertscore_config: dict[str, Any]
) -> list[dict[str, Any]]:
    """The requested reference metrics of each answer against its reference (one batch)."""
    figures: list[dict[str, Any]] = [{} for _ in answers]
    if "bertscore" in metrics:
        for record, score in zip(
            figures, bertscores(answers, references, bertscore_config), strict=True
        ):
            record["bertscore"] = score
    if "rouge_l" in metrics:
        for record, answer, reference in zip(figures, answers, references, strict=True):
            record["rouge_l"] = rouge_l(answer, reference)
    return figures
