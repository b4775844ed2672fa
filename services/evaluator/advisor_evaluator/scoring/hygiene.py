"""Prompt hygiene (docs/design.md, lesson 8): exact and near-duplicate prompts, and overlap with the
training set. The paper's 50 evaluation prompts held 6 verbatim duplicates (44 unique).

Near-duplicates are found by cosine similarity of character n-gram TF-IDF vectors (n = 3..5, within
word boundaries, so one changed word in a 15-word question still scores about 0.9), computed
through an inverted index so the cost grows with shared n-grams, not with the vocabulary.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .items import EvalItem

NGRAM_SIZES = (3, 4, 5)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for exact matching."""
    return _SPACE.sub(" ", text).strip().casefold()


def char_ngrams(text: str) -> Counter[str]:
    """Character n-grams of each word padded with spaces (words shorter than n give one gram)."""
    grams: Counter[str] = Counter()
    for word in normalise(text).split(" "):
        padded = f" {word} "
        for n in NGRAM_SIZES:
            if len(padded) <= n:
                grams[padded] += 1
                continue
            grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class TfidfSpace:
    """TF-IDF over a fixed corpus (smooth idf, L2-normalised rows), sparse rows as dicts."""

    def __init__(self, corpus: list[str]):
        self.grams = [char_ngrams(text) for text in corpus]
        frequency: Counter[str] = Counter()
        for grams in self.grams:
            frequency.update(grams.keys())
        self.n_docs = len(corpus)
        self.index = {gram: i for i, gram in enumerate(sorted(frequency))}
        self.idf = {g: math.log((1 + self.n_docs) / (1 + df)) + 1.0 for g, df in frequency.items()}

    def row(self, position: int) -> dict[int, float]:
        weights = {self.index[g]: tf * self.idf[g] for g, tf in self.grams[position].items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {i: w / norm for i, w in weights.items()}


class CosineIndex:
    """Cosine similarity of any row against a fixed set of rows, through an inverted index."""

    def __init__(self, rows: list[dict[int, float]]):
        self.size = len(rows)
        postings: dict[int, tuple[list[int], list[float]]] = {}
        for doc, row in enumerate(rows):
            for feature, weight in row.items():
                docs, weights = postings.setdefault(feature, ([], []))
                docs.append(doc)
                weights.append(weight)
        self.postings = {f: (np.array(d), np.array(w)) for f, (d, w) in postings.items()}

    def similarities(self, row: dict[int, float]) -> np.ndarray:
        scores = np.zeros(self.size)
        for feature, weight in row.items():
            hit = self.postings.get(feature)
            if hit is not None:
                np.add.at(scores, hit[0], hit[1] * weight)
        return scores


@dataclass
class HygieneResult:
    """Which items were kept, and everything that was found (all of it goes into the report)."""

    kept: list[EvalItem]
    exact_duplicates: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    training_overlap: dict[str, Any] = field(default_factory=dict)
    excluded_for_overlap: list[str] = field(default_factory=list)
    n_input: int = 0

    def to_report(self) -> dict[str, Any]:
        return {
            "n_input": self.n_input,
            "n_kept": len(self.kept),
            "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates,
            "training_overlap": self.training_overlap,
            "excluded_for_overlap": self.excluded_for_overlap,
        }


def deduplicate(items: list[EvalItem], threshold: float) -> HygieneResult:
    """Keep the first of each group of exact or near-duplicate prompts (cosine ≥ `threshold`)."""
    space = TfidfSpace([item.prompt for item in items])
    rows = [space.row(i) for i in range(len(items))]
    index = CosineIndex(rows)
    result = HygieneResult(kept=[], n_input=len(items))
    first_by_text: dict[str, EvalItem] = {}
    kept_positions: list[int] = []
    for position, item in enumerate(items):
        text = normalise(item.prompt)
        if text in first_by_text:
            result.exact_duplicates.append({"id": item.id, "duplicate_of": first_by_text[text].id})
            continue
        if kept_positions:
            similarity = index.similarities(rows[position])[kept_positions]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                result.near_duplicates.append(
                    {
                        "id": item.id,
                        "duplicate_of": items[kept_positions[best]].id,
                        "similarity": round(float(similarity[best]), 4),
                    }
                )
                continue
        first_by_text[text] = item
        kept_positions.append(position)
        result.kept.append(item)
    return result


def measure_training_overlap(
    items: list[EvalItem], training: list[tuple[str, str]], threshold: float
) -> dict[str, Any]:
    """Exact and near-duplicate overlap of evaluation prompts with training prompts
    (`training` = (id, first user turn) pairs). IDF is fitted on both sets together."""
    space = TfidfSpace([item.prompt for item in items] + [text for _, text in training])
    train_rows = [space.row(len(items) + j) for j in range(len(training))]
    index = CosineIndex(train_rows)
    train_by_text = {normalise(text): train_id for train_id, text in reversed(training)}
    exact: list[dict[str, Any]] = []
    near: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        hit = train_by_text.get(normalise(item.prompt))
        if hit is not None:
            exact.append({"id": item.id, "train_id": hit})
            continue
        if not training:
            continue
        similarity = index.similarities(space.row(position))
        best = int(np.argmax(similarity))
        if similarity[best] >= threshold:
            near.append(
                {
                    "id": item.id,
                    "train_id": training[best][0],
                    "similarity": round(float(similarity[best]), 4),
                }
            )
    n = len(items)
    return {
        "measured": True,
        "training_prompts": len(training),
        "exact": exact,
        "near": near,
        "overlap_rate": round((len(exact) + len(near)) / n, 4) if n else 0.0,
    }


def apply_hygiene(
    items: list[EvalItem],
    training: list[tuple[str, str]] | None,
    threshold: float,
    exclude_training_overlap: bool,
) -> HygieneResult:
    """De-duplicate `items`, then measure (and optionally remove) overlap with `training`."""
    result = deduplicate(items, threshold)
    if training is None:
        result.training_overlap = {"measured": False, "reason": "no training dataset was given"}
        return result
    result.training_overlap = measure_training_overlap(result.kept, training, threshold)
    if exclude_training_overlap:
        overlapping = {
            hit["id"] for kind in ("exact", "near") for hit in result.training_overlap[kind]
        }
        result.excluded_for_overlap = [i.id for i in result.kept if i.id in overlapping]
        result.kept = [i for i in result.kept if i.id not in overlapping]
    return result
