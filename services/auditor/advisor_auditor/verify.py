"""Verify one claim against the corpus: deterministic checks of values and names.

Each check anchors the claim to its subject (the names in the claim, else those of the heading,
the question, the rest of the answer), gathers the spans about that subject, and compares:

- values: the claim's value against same-kind values in the best-aligned spans (a different
  fee for the same thing is a contradiction; the same fee is support);
- names: a visa, insurance policy, scheme or funding body must be paired with the subject
  somewhere in the corpus; a proper name the corpus never uses is a fabrication;
- rules: program availability and nationality eligibility (see `rules`).

A check without evidence is never "contradicted": without a span to cite it is "unverifiable".
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .arithmetic import (
    complement_of,
    derived_within,
    factors_in,
    is_approximate,
    rounds_to,
    scaled_from,
)
from .attributes import attribute_words, value_contexts
from .check_context import CLAUSE_BREAK, ClaimContext, evidence_of
from .claims import Claim
from .entities import ATTRIBUTE_KINDS, Mention, kind_of, kind_words
from .findings import Check, Verdict
from .offerings import check_offering
from .premises import check_denial
from .retrieval import EvidenceIndex, content_words
from .roles import check_role
from .rules import check_availability, check_eligibility
from .values import Value, comparable, same_value

# Tuned on the train split of data/sample (see docs/auditor.md); test-split figures are
# reported separately so overfitting would show.
MIN_ALIGNMENT = 0.55  # below this a span is not about the claim's attribute
MIN_SUPPORT = 0.45  # an equal value in a span aligned at least this well supports the claim
WORD_WEIGHT = 0.5  # weight of qualifier-word overlap next to MiniLM cosine
NEAR_LEVELS = 6  # own, heading, question, rest of answer, other names, one hop; then earlier
OWN_LEVELS = (0, 3, 4)  # the levels that hold the claim's own names
# A value the answer computes or compares ("i.e. EUR 12,240", "the difference of SJK 1,700",
# "below that level") is not stated in the sources: a different source value is no evidence
# against it. A source value stated as a bound ("if the stipend is lower than SJK 11,200") is
# not the attribute's value either.
_DERIVED = re.compile(
    r"\b(?:i\.e\.|that is|which (?:means|comes to|makes|gives)|means|comes to|works out|adds up|"
    r"in total|altogether|difference|remaining|combined|that gives|leaves you|"
    r"(?:less|more|lower|higher|fewer|greater) than|below|above|exceeds?|brings?|bringing|saves?|saving)",
    re.IGNORECASE,
)
_BOUND = re.compile(
    r"\b(?:(?:less|more|lower|higher|fewer|greater) than|below|above|exceeds?)\b", re.IGNORECASE
)
# Subjects whose pages state the same attributes with different values (two universities'
# deadlines, two awards' stipends): one's value is no evidence about the other's.
RIVAL_KINDS = frozenset({"institution", "scholarship", "visa", "health"})
_DENIES = re.compile(r"\b(?:not|no|never|cannot|instead)\b|n't\b", re.IGNORECASE)
PERIOD_FALLBACK_OVERLAP = 0.5  # share of the claimed attribute's words the whole span must hold
NAMED_FIT = 0.3  # share of the claimed attribute's words a loosely aligned span must name
SHORT_SPAN_WORDS = 10  # a list item or cell this short is named by its section heading
VALUE_CLASS = {"date": "date"}  # every other value kind is a "number" error
# A value the answer points back to ("that MVT 780 figure", "this amount of EUR 50") restates
# one said before; the sentence says something else about it.
_BACK_REFERENCE = re.compile(r"\b(?:that|this|these|those|the same)\s+$", re.IGNORECASE)
# "a GPA of 3.2 versus 3.0": a comparison states two subjects' values side by side; the value
# after "versus" is the other subject's.
_COMPARED = re.compile(
    r"\b(?:versus|vs\.?|compared (?:with|to)|as against|instead of|rather than)\s+$", re.IGNORECASE
)


# "If you take a room and add food and transport, the total is ...": a sum the answer forms.
_ADDS_UP = re.compile(r"\b(?:add|adding|added|plus|together|combined|sum of)\b")
# "Unlike X, ...", "compared with X": X is named as the other side, not as the subject.
_CONTRAST = re.compile(
    r"\b(?:unlike|compared (?:with|to)|in contrast to|than|versus|vs\.?)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
# A degree level qualifies a value: a bachelor's rule is no evidence about a master's.
_DEGREE_LEVEL = re.compile(
    r"\b(?P<level>bachelor|undergraduate|master|postgraduate|phd|doctoral|doctorate)",
    re.IGNORECASE,
)
_LEVEL_OF = {"undergraduate": "bachelor", "postgraduate": "master", "doctoral": "phd"}
_LEVEL_OF["doctorate"] = "phd"


def _degree_levels(text: str) -> set[str]:
    levels = {m.group("level").lower() for m in _DEGREE_LEVEL.finditer(text)}
    return {_LEVEL_OF.get(level, level) for level in levels}


def _without_mentions(claim: Claim) -> str:
    text = claim.text
    for mention in sorted(claim.mentions, key=lambda m: m.start, reverse=True):
        text = text[: mention.start] + " " + text[mention.end :]
    return text


def _clause_around(text: str, start: int, end: int) -> str:
    """The clause of `text` holding [start, end): between separators , ; : and dashes."""
    left = max(text.rfind(sep, 0, start) for sep in (",", ";", ":", " - ", " \u2013 ")) + 1
    ends = [text.find(sep, end) for sep in (",", ";", ":", " - ", " \u2013 ")]
    right = min([e for e in ends if e >= 0], default=len(text))
    return text[left:right]


def _qualified_form(name: str, full: str, is_name: Callable[[str], bool]) -> bool:
    """Whether `full` is `name` qualified by a place or body: "X of Brevasta", "Brevasta X"."""
    if name == full or name not in full:
        return False
    rest = full.replace(name, " ").replace(" of ", " ").split()
    rest = [w for w in rest if w not in ("of", "the")]
    return bool(rest) and all(is_name(w) for w in rest)


class ClaimVerifier:
    """Runs every deterministic check on a claim; one instance per corpus index."""

    def __init__(self, index: EvidenceIndex):
        self.index = index
        self.gazetteer = index.gazetteer
        self._doc_titles: dict[str, str] = {}
        self._doc_names: dict[str, set[str]] = {}
        for span, names in zip(index.spans, index.span_names, strict=True):
            self._doc_titles[span.doc_path] = span.title.lower()
            self._doc_names.setdefault(span.doc_path, set()).update(
                n for n in names if self.gazetteer.is_anchor(n)
            )
        self._hop_cache: dict[frozenset[str], set[str]] = {}
        self._about_cache: dict[frozenset[str], list[int]] = {}
        self._section_cache: dict[str, set[str]] = {}
        self._qualified_cache: dict[str, list[str]] = {}
        # Negated clauses of each span with their content words, for premise denials.
        self.denial_cache: dict[int, list[tuple[str, set[str]]]] = {}

    # -- anchors ---------------------------------------------------------------------------
    def _anchors(self, mentions: list[Mention], exclude: set[str] | None = None) -> list[str]:
        names = []
        for mention in mentions:
            key = mention.name
            if mention.known and not self.gazetteer.is_anchor(key):
                # "Grenvik" for "University of Grenvik": a short form of one subject.
                key = self._full_name(key)
            if mention.known and self.gazetteer.is_anchor(key) and key not in (exclude or set()):
                if key not in names:
                    names.append(key)
        return names

    def anchor_levels(
        self, claim: Claim, context: ClaimContext, exclude: set[str] | None = None
    ) -> list[list[str]]:
        """Anchor names by distance from the claim; later levels are tried only when earlier
        ones find no evidence."""
        groups = [
            self._anchors(claim.mentions, exclude),
            self._anchors(context.heading, exclude),
            self._anchors(context.question, exclude),
            self._anchors(context.answer, exclude),
        ]
        # Names that documents are about (a university, a scholarship, a country) come first,
        # nearest first; other names (a test, a portal) name what a value is measured by and
        # appear in the documents of many subjects, so they anchor only after them.
        subject = self.gazetteer.is_subject
        near = [[n for n in group if subject(n)] for group in groups]
        near.append(list(dict.fromkeys(n for group in groups for n in group if not subject(n))))
        near_names = {name for level in near for name in level}
        # One step from this answer's subjects comes before earlier turns' subjects.
        hop = sorted(self._hop(near_names) - near_names - (exclude or set()))
        return [*near, hop, self._anchors(context.earlier, exclude)]

    def _hop(self, names: set[str]) -> set[str]:
        """Names in the documents that are about `names` (a university's document names its
        country and visa), for claims whose subject is one step away."""
        key = frozenset(names)
        if key not in self._hop_cache:
            hop: set[str] = set()
            for path, title in self._doc_titles.items():
                if any(name in title for name in names):
                    hop |= self._doc_names[path]
            self._hop_cache[key] = hop
        return self._hop_cache[key]

    def spans_about(self, names: list[str]) -> list[int]:
        key = frozenset(names)
        if key not in self._about_cache:
            self._about_cache[key] = [
                i for i, found in enumerate(self.index.span_subjects) if found & key
            ]
        return self._about_cache[key]

    # -- alignment ---------------------------------------------------------------------------
    def _alignment(
        self, claim_vector: np.ndarray, words: set[str], indices: list[int]
    ) -> np.ndarray:
        cosine = self.index.similarity(claim_vector, indices)
        overlap = np.array([self.index.word_overlap(words, i) for i in indices], dtype=np.float32)
        return cosine + WORD_WEIGHT * overlap

    # -- value checks ----------------------------------------------------------------------
    def _named_only_later(self, claim: Claim, value: Value) -> set[str]:
        """Subjects the claim names only in clauses after the value's ("The stipend's deadline
        is 1 December, so you will know before the Founders' Grant closes"): a sentence names
        a value's subject before the value or in its own clause, so those are not its."""
        before: set[str] = set()
        after: set[str] = set()
        for mention in claim.mentions:
            names = self._anchors([mention])
            if mention.start < value.end or not CLAUSE_BREAK.search(
                claim.text[value.end : mention.start]
            ):
                before.update(names)
            else:
                after.update(names)
        return after - before

    def check_value(
        self, claim: Claim, value: Value, levels: list[list[str]], claim_vector: np.ndarray
    ) -> Check:
        """Compare `value` with same-kind values in the spans about the claim's subject.

        Spans from every anchor level compete, nearer levels slightly favoured: the heading may
        name a university while the value ("visa fee") belongs to its country's visa guide.
        """
        names = {w for n in claim.mentions for w in n.text.lower().split()}
        # The value's own attribute words ("a room ... costs about [TVP 480] a month"), not
        # the whole sentence's, which may state other attributes too.
        local = value_contexts(claim.text, claim.values)[claim.values.index(value)]
        words = content_words(local, self.index.currencies) - names
        if not words:
            words = content_words(claim.text, self.index.currencies) - names
        error_class = VALUE_CLASS.get(value.kind, "number")
        # Kinds named by common nouns ("the visa fee"), not inside names ("... Council").
        # Only the value's own words count: "up to 40 hours in university vacations" makes
        # the other value of the sentence no fact about a university.
        kinds = kind_words(_without_mentions(claim)) & kind_words(local)
        level_of: dict[int, int] = {}
        for depth, level in enumerate(levels):
            for i in self.spans_about(level):
                if i in level_of or not any(
                    comparable(value, v) for v in self.index.span_values[i]
                ):
                    continue
                # "Visa fee" is a fact about a visa: a university's application fee is no
                # evidence for or against it, however similar the sentences read.
                if kinds and not kinds <= self.index.span_kinds[i]:
                    continue
                level_of[i] = depth
        if not level_of:
            return Check(
                kind="value",
                verdict=Verdict.UNVERIFIABLE,
                claimed=value.text,
                reason="no source span about the claim's subject states a value of this kind",
            )
        candidates = list(level_of)
        # The span must be about this value's attribute and about what the claim says overall.
        whole = content_words(claim.text, self.index.currencies) - names
        scores = (
            self._alignment(claim_vector, words, candidates)
            + self._alignment(claim_vector, whole, candidates)
        ) / 2
        # A subject's name is not an attribute ("... in Ostravel" names where, not what); a
        # qualifier such as "Master" is.
        subject_words = {
            w
            for m in claim.mentions
            if m.known and self._is_subject_name(m.name)
            for w in m.text.lower().split()
        }
        own_words = content_words(local, self.index.currencies) - subject_words
        # The subject is the nearest anchor level that states this attribute at all (a
        # university's page has no visa fee; its country's visa guide does).
        deciding = None
        for depth in range(len(levels)):
            at_depth = [k for k, i in enumerate(candidates) if level_of[i] == depth]
            if not at_depth:
                continue
            aligned = [k for k in at_depth if scores[k] >= MIN_ALIGNMENT]
            if aligned:
                # Rows of one table align almost equally ("Early | 1 December", "Late | 30
                # June"): the one whose value is named by the claimed attribute's words wins.
                deciding = max(
                    aligned,
                    key=lambda k: scores[k] + self._attribute_fit(value, own_words, candidates[k]),
                )
                break
        if deciding is None:
            # A long sentence aligns loosely with any span; a span about the claim's own
            # subject whose value is named by the claimed attribute's words still decides
            # ("your contribution will be EUR 68 per month, collected ..." against "The monthly
            # student contribution is EUR 58 ...").
            named = [
                k
                for k, i in enumerate(candidates)
                if level_of[i] <= NEAR_LEVELS - 3
                and scores[k] >= MIN_SUPPORT
                and self._attribute_fit(value, own_words, i) >= NAMED_FIT
            ]
            if named:
                deciding = max(named, key=lambda k: scores[k])
        # Support comes from the subjects of this answer (and one step from them) or from the
        # deciding subject: the same figure on an unrelated university's page does not make
        # it right for this one.
        floor = MIN_SUPPORT
        depth_limit = max(
            level_of[candidates[deciding]] if deciding is not None else 0, NEAR_LEVELS - 1
        )
        # When the subject the claim itself names states this attribute in words the claim
        # uses, a page about a rival subject (another university's deadline, another permit's
        # hours, another award's row in an overview) does not support the claim: the figure is
        # right for something else.
        own_fit = (
            self._attribute_fit(value, own_words, candidates[deciding])
            if deciding is not None
            else 0.0
        )
        own_decides = (
            deciding is not None and level_of[candidates[deciding]] == 0 and own_fit >= NAMED_FIT
        )
        equal = [
            k
            for k, i in enumerate(candidates)
            if scores[k] >= floor
            and level_of[i] <= depth_limit
            and not (
                own_decides
                and level_of[i] > 0
                and self._about_rival(i, set(levels[0]))
                and own_fit >= self._attribute_fit(value, own_words, i)
            )
            and self._states_same(value, own_words, i)
        ]
        if equal:
            k = max(equal, key=lambda k: scores[k])
            return Check(
                kind="value",
                verdict=Verdict.SUPPORTED,
                claimed=value.text,
                expected=value.text,
                evidence=[evidence_of(self.index, candidates[k], float(scores[k]))],
                confidence=round(min(0.99, 0.5 + float(scores[k]) / 2), 3),
                reason=f"the source states the same {value.kind}",
            )
        if deciding is None:
            k = int(np.argmax(scores))
            return Check(
                kind="value",
                verdict=Verdict.UNVERIFIABLE,
                claimed=value.text,
                evidence=[evidence_of(self.index, candidates[k], float(scores[k]))],
                confidence=round(1 - max(float(scores[k]), 0.0), 3),
                reason="no source span about the claim's subject states this attribute",
            )
        best, best_score = candidates[deciding], float(scores[deciding])
        # Names count here: "Bachelor applications close on ..., Master applications on ...".
        stated = self._same_attribute(value, own_words, best)
        doubt = self._doubt(claim, local, value, stated, best, levels)
        # "No span about the claim's subjects states the same value": an equal value of this
        # attribute on the subject's own pages, however loosely aligned, forbids a
        # contradiction from a farther page.
        near = [
            i
            for i in candidates
            if level_of[i] <= min(level_of[best], NEAR_LEVELS - 3)
            and self._states_same(value, own_words, i)
        ]
        if near and not doubt:
            doubt = "a span about the claim's subject states the same value"
        if not doubt and stated:
            doubt = self._stated_elsewhere(value, own_words, best, set(levels[0]))
        if not doubt and stated and is_approximate(claim.text, value):
            # "roughly UF 1,040" against a page that states 1,038 for the same subject.
            if any(
                rounds_to(value, claim.text, v)
                for i in candidates
                if level_of[i] <= NEAR_LEVELS - 3
                for v in self.index.span_values[i]
            ):
                doubt = "the answer rounds a value a span about its subject states"
        if doubt:
            return Check(
                kind="value",
                verdict=Verdict.UNVERIFIABLE,
                claimed=value.text,
                evidence=[evidence_of(self.index, best, best_score)],
                reason=doubt,
            )
        if not stated:
            return Check(
                kind="value",
                verdict=Verdict.UNVERIFIABLE,
                claimed=value.text,
                evidence=[evidence_of(self.index, best, best_score)],
                reason="the best-matching span states several values of this kind and none is "
                "clearly of the claimed attribute",
            )
        return Check(
            kind="value",
            verdict=Verdict.CONTRADICTED,
            claimed=value.text,
            expected=", ".join(v.text for v in stated),
            error_class=error_class,
            evidence=[evidence_of(self.index, best, best_score)],
            confidence=round(min(0.99, 0.4 + best_score / 2), 3),
            reason=f"the best-matching source span states a different {value.kind}",
        )

    def _doubt(
        self,
        claim: Claim,
        local: str,
        value: Value,
        stated: list[Value],
        span: int,
        levels: list[list[str]],
    ) -> str | None:
        """Why a different value in `span` does not contradict the claimed one, if it does not:
        the answer derived the value or states a bound, the source states a bound, or the span
        is about another subject of the same kind as the claim's."""
        if _DERIVED.search(local):
            return "the answer derives or bounds this value; the sources do not state it"
        span_text = self.index.spans[span].match_text
        if _ADDS_UP.search(claim.text[: value.start]):
            return "the answer adds values up; the sources do not state the sum"
        levels_claimed = _degree_levels(claim.text)
        levels_span = _degree_levels(span_text)
        if levels_claimed and levels_span and not levels_claimed & levels_span:
            return "the best-matching span is about another degree level"
        contrasted = {
            self._full_name(m.name)
            for m in claim.mentions
            if m.known and _CONTRAST.search(claim.text[max(0, m.start - 30) : m.start])
        }
        others = {
            self._full_name(m.name)
            for m in claim.mentions
            if m.known and self._is_subject_name(m.name)
        } - contrasted
        if (
            contrasted
            and self._about_any(span, contrasted)
            and not (others and self._about_any(span, others))
        ):
            return "the best-matching span is about the subject the claim contrasts with"
        if derived_within(value, claim.text, claim.values):
            return "the answer computes this value from the other values it states"
        factors = factors_in(claim.text)
        for v in self.index.span_values[span]:
            if complement_of(value, v):
                return "the answer states the other share of the source's percentage"
            if rounds_to(value, claim.text, v):
                return "the answer rounds the source's value"
            if scaled_from(value, claim.text, v, span_text, factors):
                return "the answer scales the source's value by a factor or period it names"
        if _COMPARED.search(claim.text[: value.start]):
            return "the answer compares this value with another subject's"
        contexts = value_contexts(self.index.spans[span].match_text, self.index.span_values[span])
        for v in stated:
            own = contexts[self.index.span_values[span].index(v)]
            if _BOUND.search(own):
                return "the source states a bound, not the value of the attribute"
            # "USD 1 = ZHR 3.60": one side of an equation is an exchange rate, not an amount.
            if "=" in span_text[max(0, v.start - 3) : v.end + 3]:
                return "the source states a rate of conversion, not an amount"
        # "Covered at 80% so you pay 20%" against "80% (you pay a 20% co-payment)": the claim
        # states the span's values, both of them; only which attribute each belongs to is in
        # question, and that is the weakest reading here.
        span_values = self.index.span_values[span]
        if any(same_value(value, v) for v in span_values if comparable(value, v)) and all(
            any(comparable(v, c) and same_value(v, c) for c in claim.values) for v in stated
        ):
            return "the claim states the source's values; only their pairing differs"
        # The subject a value's own clause names ("BIT's 31 January deadline", "teaching at
        # Coralhaven starts on ...") is the one its evidence must be about.
        own_subjects = {
            self._full_name(m.name)
            for m in claim.mentions
            if m.known and m.text in local and self._is_subject_name(m.name)
        }
        if own_subjects and not self._about_any(span, own_subjects):
            return "the best-matching span is not about the subject the value is stated for"
        subjects = {n for level in levels[:4] for n in level}
        if subjects and not self.index.span_subjects[span] & subjects:
            kinds = {kind_of(self._full_name(n)) for n in subjects} & RIVAL_KINDS
            others = {
                n
                for n in self.index.span_names[span]
                if self.gazetteer.is_subject(n) and kind_of(self._full_name(n)) in kinds
            }
            if others:
                return "the best-matching span is about another subject of the claim's kind"
        return None

    def _stated_elsewhere(
        self, value: Value, own_words: set[str], best: int, subjects: set[str]
    ) -> str | None:
        """Whether another document, about no rival of the claim's subject, states the claimed
        value for the claimed attribute ("residence applications open on 1 May" on a living-
        costs page, while the best-aligned span is the portal's opening date)."""
        # Only amounts and dates are specific enough: "from arrival" or "6 months" is stated of
        # many things.
        if value.kind not in ("money", "date"):
            return None
        doc = self.index.spans[best].doc_path
        for i, values in enumerate(self.index.span_values):
            if (
                self.index.spans[i].doc_path != doc
                and any(comparable(value, v) and same_value(value, v) for v in values)
                and self._attribute_fit(value, own_words, i) >= NAMED_FIT
                and self._states_same(value, own_words, i)
                and not self._about_rival(i, subjects)
            ):
                return "another source states the same value for this attribute"
        return None

    def _about_rival(self, span: int, subjects: set[str]) -> bool:
        """Whether `span` is about a subject of a rival kind (an institution, award, permit or
        health scheme) and about none of `subjects`."""
        if self._about_any(span, subjects):
            return False
        return any(
            self.gazetteer.is_subject(n)
            and n not in subjects
            and kind_of(self._full_name(n)) in RIVAL_KINDS
            for n in self.index.span_names[span]
        )

    def _in_document_about(self, span: int, names: set[str]) -> bool:
        title = self._doc_titles.get(self.index.spans[span].doc_path, "")
        return any(self._full_name(n) in title or n in title for n in names)

    def _section_words(self, span: int) -> set[str]:
        section = self.index.spans[span].section
        if section not in self._section_cache:
            self._section_cache[section] = content_words(section, self.index.currencies)
        return self._section_cache[section]

    def _full_name(self, name: str) -> str:
        """A short form's full name when it stands for one subject ("tordal" -> "tordal
        institute of technology"), else the name itself."""
        if " " in name:
            return name
        resolved = self.gazetteer.resolve(name)
        return resolved if resolved and self.gazetteer.is_subject(resolved) else name

    def _is_subject_name(self, name: str) -> bool:
        return self.gazetteer.is_subject(self._full_name(name))

    def _about_any(self, span: int, names: set[str]) -> bool:
        """Whether `span` is about one of `names` (it names it, or its document's title does)."""
        found = self.index.span_subjects[span]
        title = self._doc_titles.get(self.index.spans[span].doc_path, "")
        return any(
            n in found or n in title or any(w in found for w in n.split() if w in found)
            for n in names
        )

    def _attribute_options(
        self, value: Value, words: set[str], span: int, periods: bool = False
    ) -> list[tuple[Value, float, set[str]]]:
        """Each value of `span` comparable with `value`, with how well its own attribute words
        (and the span's section heading) cover the claimed value's, and which words matched.
        Words that only say how often or how roughly ("a month", "about") name no attribute
        and are left out."""
        specific = attribute_words(words, periods)
        own = [
            (v, self.index.span_value_words[span][j])
            for j, v in enumerate(self.index.span_values[span])
            if comparable(value, v)
        ]
        short = len(self.index.spans[span].match_text.split()) <= SHORT_SPAN_WORDS
        if short and not any(self.index.shared(specific, w) for _, w in own):
            # "## Application fee" over "- QSD 75 (non-refundable)": the heading names it. A
            # sentence names its own attribute; its section heading does not override it.
            section = self._section_words(span)
            own = [(v, w | section) for v, w in own]
        return [
            (v, self.index.overlap(specific, w), self.index.shared(specific, w)) for v, w in own
        ]

    def _attribute_fit(self, value: Value, words: set[str], span: int) -> float:
        """How well the best value of `span` is named by the claimed attribute's words."""
        return max((o for _, o, _ in self._attribute_options(value, words, span)), default=0.0)

    def _same_attribute(self, value: Value, words: set[str], span: int) -> list[Value]:
        """The values of `span` that measure the claimed attribute: those whose attribute words
        overlap the claim's best. None when no word ties a value to the claimed attribute: a
        span's only fee is no evidence about a different fee."""
        options = self._attribute_options(value, words, span)
        top = max((overlap for _, overlap, _ in options), default=0.0)
        specific = attribute_words(words)
        if (
            top == 0
            and len(options) > 1
            and (
                not specific  # "The Health Plan costs X a month": the subject is the attribute
                or self.index.word_overlap(specific, span) >= PERIOD_FALLBACK_OVERLAP
            )
        ):
            # "IslandCare costs TVP 68 per month, paid by direct debit" against "Premium: TVP
            # 62 per month (TVP 744 per year), paid by direct debit": the span is about the
            # claimed attribute as a whole, and the period tells its values apart.
            options = self._attribute_options(value, words, span, periods=True)
            top = max((overlap for _, overlap, _ in options), default=0.0)
        return [v for v, overlap, _ in options if overlap == top] if top > 0 else []

    def _states_same(self, value: Value, words: set[str], span: int) -> bool:
        """`span` states the claimed value for the claimed attribute: an equal value, unless
        another value of the span matches every attribute word it matches and more
        ("master's applications close on 1 March and the BSc's on 15 March" does not support
        15 March for a master's). In a series with the verb said once ("Bachelor applications
        close on A, Master applications on B") B matches "Master" and A does not: B counts."""
        options = self._attribute_options(value, words, span)
        equal = [(overlap, matched) for v, overlap, matched in options if same_value(value, v)]
        if not equal:
            return False
        for overlap, matched in equal:
            # An equal value whose own words match none of the claim's is not shown to be of
            # another attribute ("..., i.e. EUR 12,240 for a full year"): it supports.
            beaten = bool(matched) and any(
                matched < other and other_overlap > overlap
                for v, other_overlap, other in options
                if not same_value(value, v)
            )
            if not beaten:
                return True
        return False

    # -- name checks -----------------------------------------------------------------------
    def check_attribute_name(
        self, claim: Claim, mention: Mention, context: ClaimContext, claim_vector: np.ndarray
    ) -> Check | None:
        """A visa/policy/scheme/funder must be paired with the claim's subject in the corpus."""
        name = mention.name
        subject_levels = [
            [
                m.name
                for m in group
                if m.known
                and m.name != name
                and kind_of(m.name) not in ATTRIBUTE_KINDS
                and self.gazetteer.is_anchor(m.name)
            ]
            for group in (claim.mentions, context.heading, context.question)
        ]
        if len(set(subject_levels[0])) > 1:
            # "A's permit gives 18 months, while B's visa gives 2 years": each name is paired
            # with the subject of its own clause; with none there, the pairing is not stated.
            subject_levels[0] = self._subjects_of_clause(claim, mention, subject_levels[0])
            if not subject_levels[0]:
                return None
        subjects = next((level for level in subject_levels if level), [])
        if not subjects:
            return None
        # "The Brekkestad Student Housing Foundation" belongs to the Brekkestad the context
        # names: its own name pairs it.
        context_subjects = {n for level in subject_levels for n in level}
        named_after = {w for n in context_subjects for w in n.split()} | {
            w
            for group in (context.heading, context.question)
            for m in group
            for w in m.name.split()
        }
        own_words = {w for w in name.split()[:-1] if self.gazetteer.is_name(w)}
        if own_words & named_after:
            return None
        # "You don't need a Study Residence Permit" pairs nothing with anything.
        if _DENIES.search(_clause_around(claim.text, mention.start, mention.end)):
            return None
        # The claim itself relates the name to its subject ("X is funded by Y"): the subject's
        # own documents decide.
        stated_here = bool(subject_levels[0])
        with_name = self.gazetteer.spans_mentioning(name) | {
            i for i, names in enumerate(self.index.span_names) if name in names
        }
        # "Brevasta's Ministry of Education" is the corpus's "Ministry of Education of
        # Brevasta": a qualified form named after the subject belongs to it, and the spans
        # naming a qualified form name the body too.
        for full in self._qualified_forms(name):
            if set(full.split()) - set(name.split()) & named_after:
                return None
            with_name |= self.gazetteer.spans_mentioning(full) | {
                i for i, names in enumerate(self.index.span_names) if full in names
            }
        # Paired: named in a document about the subject, or beside the subject in a span that
        # does not deny it ("citizens of Gallenor do not need an SRP" pairs nothing).
        direct = [
            i
            for i in with_name
            if self._in_document_about(i, set(subjects))
            or (
                self.index.span_subjects[i] & set(subjects)
                and not _DENIES.search(self.index.spans[i].match_text)
            )
        ]
        kind = mention.kind
        own_rivals = [
            i
            for i in (self.spans_about(subjects) if stated_here else [])
            if self._in_document_about(i, set(subjects))
            and any(
                kind_of(n) == kind and n != name and n not in subjects
                for n in self.index.span_names[i]
            )
        ]
        # The subject's own documents name another funder/permit/scheme and never this one:
        # a pairing found only one hop away (a document that merely mentions the subject's
        # country) does not outweigh them.
        hop_pairing = set(subjects) | self._hop(set(subjects))
        paired = direct or (
            [] if own_rivals else [i for i in with_name if self.index.span_names[i] & hop_pairing]
        )
        if paired:
            scores = self._alignment(claim_vector, set(), paired)
            best = int(np.argmax(scores))
            return Check(
                kind="entity",
                verdict=Verdict.SUPPORTED,
                claimed=mention.text,
                evidence=[evidence_of(self.index, paired[best], float(scores[best]))],
                confidence=0.9,
                reason=f"the sources pair {mention.text} with {subjects[0]}",
            )
        related = hop_pairing
        rivals = own_rivals or [
            i
            for i in self.spans_about(sorted(related))
            if any(
                kind_of(n) == kind and n != name and n not in subjects
                for n in self.index.span_names[i]
            )
        ]
        if not rivals:
            return Check(
                kind="entity",
                verdict=Verdict.UNVERIFIABLE,
                claimed=mention.text,
                reason=f"the sources name no {kind} for {subjects[0]}",
            )
        scores = self._alignment(claim_vector, set(), rivals)
        best = rivals[int(np.argmax(scores))]
        expected = sorted(
            self.gazetteer.display.get(n, n)
            for n in self.index.span_names[best]
            if kind_of(n) == kind and n != name and n not in subjects
        )
        return Check(
            kind="entity",
            verdict=Verdict.CONTRADICTED,
            claimed=mention.text,
            expected=", ".join(expected),
            error_class="entity",
            evidence=[evidence_of(self.index, best, float(scores.max()))],
            confidence=0.85,
            reason=f"the sources never pair {mention.text} with {subjects[0]}; they name {', '.join(expected)}",
        )

    def _qualified_forms(self, name: str) -> list[str]:
        """Corpus names that are `name` qualified by a place or body ("X of Brevasta")."""
        if name not in self._qualified_cache:
            self._qualified_cache[name] = [
                full
                for full in self.gazetteer.spans_by_name
                if _qualified_form(name, full, self.gazetteer.is_name)
            ]
        return self._qualified_cache[name]

    def _subjects_of_clause(self, claim: Claim, mention: Mention, subjects: list[str]) -> list[str]:
        """The subjects among `subjects` that the clause holding `mention` names."""
        breaks = [0, *(m.end() for m in CLAUSE_BREAK.finditer(claim.text)), len(claim.text)]
        left = max(b for b in breaks if b <= mention.start)
        right = min(b for b in breaks if b >= mention.end)
        return [
            n
            for m in claim.mentions
            if left <= m.start and m.end <= right
            for n in self._anchors([m])
            if n in subjects
        ]

    def check_unknown_name(
        self, claim: Claim, mention: Mention, levels: list[list[str]], claim_vector: np.ndarray
    ) -> Check:
        """A program/scholarship/visa/scheme name the corpus never uses is a fabrication,
        when the corpus covers the subject (closed world over the subject's documents)."""
        kind = mention.kind
        if kind not in ("scholarship", "institution", "visa", "health", "organisation"):
            return Check(
                kind="fabricated",
                verdict=Verdict.UNVERIFIABLE,
                claimed=mention.text,
                reason="a name the sources do not use, of no recognised kind",
            )
        for level in levels[: NEAR_LEVELS - 1]:  # not one hop away, not earlier turns
            covering = [
                i
                for i in self.spans_about(level)
                if any(kind_of(n) == kind for n in self.index.span_names[i])
            ]
            if covering:
                scores = self._alignment(claim_vector, set(), covering)
                best = covering[int(np.argmax(scores))]
                known = sorted(
                    self.gazetteer.display.get(n, n)
                    for n in self.index.span_names[best]
                    if kind_of(n) == kind
                )
                return Check(
                    kind="fabricated",
                    verdict=Verdict.CONTRADICTED,
                    claimed=mention.text,
                    expected=", ".join(known),
                    error_class="fabricated_program",
                    evidence=[evidence_of(self.index, best, float(scores.max()))],
                    confidence=0.8,
                    reason=f"no source names {mention.text}; the sources on {level[0]} name {', '.join(known)}",
                )
        hits = self.index.search(claim.text, k=1)
        return Check(
            kind="fabricated",
            verdict=Verdict.UNVERIFIABLE,
            claimed=mention.text,
            evidence=[evidence_of(self.index, hits[0].span.index, hits[0].score)] if hits else [],
            reason=f"no source names {mention.text}, and none covers its subject",
        )

    # -- all checks ------------------------------------------------------------------------
    def verify(self, claim: Claim, context: ClaimContext, claim_vector: np.ndarray) -> list[Check]:
        """Every applicable check of `claim`."""
        checks: list[Check] = []
        levels = self.anchor_levels(claim, context)
        for value in claim.values:
            if any(comparable(value, p) and same_value(value, p) for p in context.personal):
                continue
            if _BACK_REFERENCE.search(claim.text[: value.start]):
                continue
            # Names of later clauses leave the claim's own level and the rest of the answer
            # (where this claim's names are too); the heading and the question still count.
            later = self._named_only_later(claim, value)
            value_levels = [
                [n for n in level if n not in later] if depth in OWN_LEVELS else level
                for depth, level in enumerate(levels)
            ]
            checks.append(self.check_value(claim, value, value_levels, claim_vector))
        for mention in claim.mentions:
            if not mention.known:
                checks.append(self.check_unknown_name(claim, mention, levels, claim_vector))
            elif mention.kind in ATTRIBUTE_KINDS:
                check = self.check_attribute_name(claim, mention, context, claim_vector)
                if check is not None:
                    checks.append(check)
        for rule_check in (check_availability, check_eligibility, check_offering, check_role):
            result = rule_check(self, claim, context)
            if result is not None:
                checks.append(result)
        if claim.role == "premise":
            denial = check_denial(self, claim, context, claim_vector)
            if denial is not None:
                checks.append(denial)
        return checks
