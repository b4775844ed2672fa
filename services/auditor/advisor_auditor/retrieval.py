"""Evidence retrieval over the corpus spans: BM25 (bm25s) for recall, MiniLM for meaning.

Values are masked before embedding ("The fee is [amount]"), so the re-ranker scores *what a span
is about* (the attribute), not whether its number happens to match the claim's: a span stating
a different fee for the same thing must rank as high as one stating the same fee, or a wrong
value could never be caught.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

# bm25s uses JAX for its top-k when JAX is installed, and JAX then takes 75 % of every GPU's
# memory at start-up. Retrieval is small: keep JAX on the CPU unless the deployer says otherwise.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import bm25s  # noqa: E402  (after the JAX setting above)
import numpy as np

from .attributes import value_contexts
from .corpus import Corpus, Span
from .encoder import SentenceEncoder
from .entities import Gazetteer, kind_words
from .units import NONE, Currencies, read_currencies
from .values import extract_values

_WORD = re.compile(r"[a-z][a-z']+")
STOPWORDS = frozenset(
    "a an the and or of for to in on at by with from is are be been was were it its this that "
    "these those as per your you their they can may must will shall than then so if not any all "
    "each every there here which who what when how only also".split()
)


@dataclass(frozen=True)
class Hit:
    """A span and how well it matches a query."""

    span: Span
    score: float


def mask_values(text: str, currencies: Currencies = NONE) -> str:
    """Replace each value with its kind, e.g. 'EUR 180' -> '[money]'."""
    pieces, last = [], 0
    for value in extract_values(text, currencies):
        pieces.append(text[last : value.start])
        pieces.append(f"[{value.kind}]")
        last = value.end
    pieces.append(text[last:])
    return "".join(pieces)


def content_words(text: str, currencies: Currencies = NONE) -> set[str]:
    """Lower-case words that carry meaning (no stop words, no values)."""
    return set(_content_words(text, currencies))


@lru_cache(maxsize=8192)
def _content_words(text: str, currencies: Currencies) -> frozenset[str]:
    # The same claim, clause and section texts are read many times per audit.
    return frozenset(
        w for w in _WORD.findall(mask_values(text, currencies).lower()) if w not in STOPWORDS
    )


# Words that name one attribute in advising text ("applications close" = "deadline").
_SAME_ATTRIBUTE = {
    "close": "deadline",
    "closes": "deadline",
    "closing": "deadline",
    "closed": "deadline",
    "due": "deadline",
    "begin": "start",
    "begins": "start",
    "starts": "start",
    "commence": "start",
    "commences": "start",
    "decision": "result",
    "decisions": "result",
    "results": "result",
    "announced": "result",
    "cost": "fee",
    "costs": "fee",
    "charge": "fee",
    "charged": "fee",
    "price": "fee",
    "opens": "open",
    "worth": "value",
    "opened": "open",
}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A crude stem so that 'fees' = 'fee' and 'closes' = 'deadline' (see _SAME_ATTRIBUTE)."""
    if word in _SAME_ATTRIBUTE:
        return _SAME_ATTRIBUTE[word]
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


class EvidenceIndex:
    """The corpus prepared for retrieval: a BM25 index, span embeddings, names per span."""

    def __init__(self, corpus: Corpus, encoder: SentenceEncoder):
        self.corpus = corpus
        self.encoder = encoder
        self.gazetteer = Gazetteer(corpus)
        self.spans = corpus.spans
        self.currencies = read_currencies(s.match_text for s in self.spans)
        self._bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(
            [s.context_text for s in self.spans], stopwords="en", show_progress=False
        )
        self._bm25.index(tokens, show_progress=False)
        self.vectors = encoder.encode([self._embedding_text(s) for s in self.spans])
        self.span_words = [
            content_words(f"{s.title} {s.section} {s.match_text}", self.currencies)
            for s in self.spans
        ]
        self.span_values = [extract_values(s.match_text, self.currencies) for s in self.spans]
        # The attribute words of each value of each span (see `attributes`).
        self.span_value_words = [
            [content_words(c, self.currencies) for c in value_contexts(s.match_text, values)]
            for s, values in zip(self.spans, self.span_values, strict=True)
        ]
        self.span_kinds = [kind_words(s.context_text) for s in self.spans]
        self.span_names = [
            {m.name for m in self.gazetteer.mentions(s.context_text) if m.known} for s in self.spans
        ]
        # What a span is about, for finding the spans of a subject: its names and the single
        # names inside them (a span about "Tavora Directorate of Migration" is about Tavora).
        self.span_subjects = [
            names.union(*(self.gazetteer.contained_names(n) for n in names))
            for names in self.span_names
        ]
        document_frequency: dict[str, int] = {}
        for words in self.span_words:
            for word in words:
                document_frequency[word] = document_frequency.get(word, 0) + 1
        total = len(self.spans)
        self.word_idf = {w: float(np.log(1 + total / n)) for w, n in document_frequency.items()}

    def _embedding_text(self, span: Span) -> str:
        return f"{span.title} | {span.section}: {mask_values(span.match_text, self.currencies)}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings of claims (values masked) in the span embedding space."""
        return self.encoder.encode([mask_values(t, self.currencies) for t in texts])

    def lexical(self, query: str, k: int = 50) -> list[tuple[int, float]]:
        """BM25 top-k (span index, score)."""
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        k = min(k, len(self.spans))
        results, scores = self._bm25.retrieve(tokens, k=k, show_progress=False)
        return [(int(i), float(s)) for i, s in zip(results[0], scores[0], strict=True) if s > 0]

    def similarity(self, query_vector: np.ndarray, indices: list[int]) -> np.ndarray:
        """Cosine similarity of one embedded query to the given spans."""
        if not indices:
            return np.zeros(0, dtype=np.float32)
        return self.vectors[indices] @ query_vector

    def word_overlap(self, words: set[str], index: int) -> float:
        """IDF-weighted share of `words` that span `index` contains (qualifiers such as a
        degree level or 'processing' decide between otherwise similar rows)."""
        return self.overlap(words, self.span_words[index])

    def overlap(self, words: set[str], other: set[str]) -> float:
        """IDF-weighted share of `words` found in `other` (a crude stem: 'fees' = 'fee')."""
        if not words:
            return 0.0
        stems = {_stem(w) for w in other}
        weights = {w: self.word_idf.get(w, 1.0) for w in words}
        present = sum(weight for w, weight in weights.items() if _stem(w) in stems)
        return present / sum(weights.values())

    def shared(self, words: set[str], other: set[str]) -> set[str]:
        """The stems of `words` found in `other` (see `overlap`)."""
        stems = {_stem(w) for w in other}
        return {_stem(w) for w in words} & stems

    def search(self, query: str, k: int = 5, pool: int = 50) -> list[Hit]:
        """BM25 candidates re-ranked by MiniLM similarity (values masked on both sides)."""
        candidates = [index for index, _ in self.lexical(query, pool)]
        if not candidates:
            return []
        query_vector = self.embed([query])[0]
        similarities = self.similarity(query_vector, candidates)
        order = np.argsort(-similarities)[:k]
        return [Hit(self.spans[candidates[i]], float(similarities[i])) for i in order]
