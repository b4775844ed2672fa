"""Named entities: proper-noun phrases ("University of Eastmarch", "Veyra Merit Award",
"Norvania"), the corpus's gazetteer of them, and the kind a phrase names by its head noun.

The gazetteer is built from the corpus only; an answer's proper-noun phrase that the corpus never
mentions is a candidate fabrication ("Corvin Excellence Stipend").
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from .corpus import Corpus
from .units import declared_acronyms

# Head nouns name what kind of thing a phrase is. A visa, an insurance policy, a public scheme
# or a funding body belongs to a subject (a country, a scholarship, a university): a claim that
# pairs one with a subject the corpus never pairs it with is an entity error.
HEAD_KINDS = {
    "scholarship": {
        "scholarship",
        "award",
        "grant",
        "fellowship",
        "bursary",
        "stipend",
        "prize",
        "studentship",
    },
    "institution": {
        "university",
        "institute",
        "college",
        "school",
        "polytechnic",
        "academy",
        "conservatory",
    },
    "visa": {"visa", "permit", "pass", "authorisation", "authorization", "extension"},
    "health": {
        "cover",
        "plan",
        "policy",
        "card",
        "insurance",
        "program",
        "programme",
        "register",
        "scheme",
        "service",
        "fund",
        "supplement",
        "voucher",
    },
    "organisation": {
        "foundation",
        "trust",
        "society",
        "guild",
        "council",
        "ministry",
        "department",
        "endowment",
        "office",
        "agency",
        "commission",
        "board",
    },
}
ATTRIBUTE_KINDS = frozenset({"visa", "health", "organisation"})
SUBJECT_KINDS = frozenset({"scholarship", "institution", "place"})
_CONNECTORS = {"of", "for", "and", "de", "la", "du", "von"}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’\-]*|\d+")
# Capitalised words that are never names on their own (sentence starters, markup labels).
_FUNCTION_WORDS = frozenset(
    "a an the this that these those it its you your yes no if and or but so as at by for from in "
    "into of on to with we our i my me they their there here what when where which who how why "
    "please also each every any all some only not once after before while since because "
    "step steps action good great".split()
)


_KIND_BY_WORD = {
    word: kind for kind, words in HEAD_KINDS.items() if kind != "health" for word in words
} | {"insurance": "health", "health": "health"}
_PLURALS = {f"{word}s": kind for word, kind in _KIND_BY_WORD.items()}


def kind_words(text: str) -> set[str]:
    """The kinds of thing a text talks about by common noun: 'the visa fee' -> {'visa'}."""
    return {
        kind
        for word in re.findall(r"[a-z]+", text.lower())
        if (kind := _KIND_BY_WORD.get(word) or _PLURALS.get(word))
    }


@dataclass(frozen=True)
class Mention:
    """A proper-noun phrase found in text; `known` says whether the corpus names it.

    `name` is the corpus's name for it, lower-cased: the text itself, or the full name a short
    form stands for ("the Tidewater Scholarship" -> "tavora tidewater scholarship")."""

    text: str
    start: int
    end: int
    known: bool
    kind: str
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.text.lower())


def head_noun(phrase: str) -> str:
    """'Department of International Exchange' -> 'department'; 'Veyra Merit Award' -> 'award'."""
    words = phrase.split()
    for index, word in enumerate(words):
        if word.lower() in ("of", "for") and index > 0:
            return words[index - 1].lower()
    return words[-1].lower() if words else ""


_DEGREE_OPENING = re.compile(
    r"^(?:msc|ma|meng|mba|mfa|mphil|llm|bsc|ba|beng|phd|master|bachelor)(?:'s)?\s+\w",
    re.IGNORECASE,
)


def kind_of(phrase: str) -> str:
    """The kind a phrase names, by its head noun; single words are taken as places."""
    # "MA Public Policy", "MSc Health Insurance Law": a degree's field is no policy or scheme,
    # whatever its last word.
    if _DEGREE_OPENING.match(phrase):
        return "other"
    head = head_noun(phrase)
    for kind, heads in HEAD_KINDS.items():
        if head in heads:
            return kind
    return "place" if len(phrase.split()) == 1 else "other"


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or (word.isupper() and len(word) > 1)


def proper_noun_runs(text: str) -> list[tuple[int, int, str]]:
    """Maximal runs of capitalised words, joined by lower-case connectors ('of', 'for', 'and')."""
    runs: list[tuple[int, int, str]] = []
    tokens = list(_TOKEN.finditer(text))
    i = 0
    while i < len(tokens):
        word = tokens[i].group(0)
        if not _capitalised(word) or word.lower() in _FUNCTION_WORDS and not _continues(tokens, i):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens):
            nxt = tokens[j + 1]
            gap = text[tokens[j].end() : nxt.start()]
            if gap not in (" ", "-"):
                break
            if _capitalised(nxt.group(0)):
                j += 1
                continue
            if (
                nxt.group(0).isdigit()
                and j + 2 < len(tokens)
                and _capitalised(tokens[j + 2].group(0))
                and text[nxt.end() : tokens[j + 2].start()] == " "
            ):
                j += 2  # "Ostrelian Subclass 7 Student Visa"
                continue
            if (
                nxt.group(0) in _CONNECTORS
                and j + 2 < len(tokens)
                and _capitalised(tokens[j + 2].group(0))
                and text[nxt.end() : tokens[j + 2].start()] == " "
            ):
                j += 2
                continue
            break
        start, end = tokens[i].start(), tokens[j].end()
        runs.append((start, end, text[start:end]))
        i = j + 1
    return runs


def _continues(tokens: list[re.Match[str]], i: int) -> bool:
    """'The' starts a run only when the next word is capitalised too ('The Hague')."""
    return (
        i + 1 < len(tokens)
        and _capitalised(tokens[i + 1].group(0))
        and tokens[i].group(0) not in ("The", "A", "An")
    )


_FORCED_BEFORE = re.compile(r"(?:^|[.!?:;|(\u2014\u2013*\"'\u201c\u2018>]|\s-|^\s*\d+[.)])\s*$")


def at_forced_capital(text: str, start: int) -> bool:
    """Whether a word at `start` would be capitalised anyway: the start of a text, a sentence,
    a list item, a cell or a label's value ("Fee: ..."). Elsewhere a capital marks a name."""
    return bool(_FORCED_BEFORE.search(text[max(0, start - 40) : start]))


def _trim_function_words(phrase: str) -> str:
    words = phrase.split()
    while words and words[0].lower() in _FUNCTION_WORDS:
        words = words[1:]
    return " ".join(words)


def is_list_phrase(phrase: str) -> bool:
    """'Norvania and Solmere' is a list of two names; 'College of Arts and Sciences' is one
    name (its 'and' comes after 'of')."""
    words = phrase.split()
    if "and" not in words:
        return False
    first_and = words.index("and")
    return not any(w in ("of", "for") for w in words[:first_and])


def _sub_phrases(phrase: str) -> list[str]:
    """A run, or its parts when it is a list, so 'Norvania and Solmere' yields both names."""
    if not is_list_phrase(phrase):
        return [phrase] if phrase else []
    return [p.strip() for p in re.split(r"\band\b", phrase) if p.strip()]


def _title_starts_with(title: str, name: str) -> bool:
    return title == name or (title.startswith(name) and not title[len(name)].isalnum())


class Gazetteer:
    """Every proper-noun phrase the corpus uses, with the spans that mention it."""

    def __init__(self, corpus: Corpus):
        self.spans_by_name: dict[str, set[int]] = defaultdict(set)
        self.display: dict[str, str] = {}
        # A capitalised word that also appears in lower case ("Applicants", "Minimum") is an
        # ordinary word at the start of a sentence or a table header, not part of a name.
        self.common_words: set[str] = set()
        self.free_names: set[str] = set()
        for span in corpus.spans:
            self.common_words.update(w for w in _TOKEN.findall(span.match_text) if w.islower())
        # A run capitalised where nothing forces a capital is a name even when its words are
        # ordinary ("a Study Residence Permit"); where a capital is forced ("Minimum LEXT",
        # titles, headings, table cells) leading common words are dropped unless the whole run
        # is such a name.
        free_runs: set[str] = set()
        for span in corpus.spans:
            for start, _, run in proper_noun_runs(span.match_text):
                if not at_forced_capital(span.match_text, start):
                    free_runs.add(_trim_function_words(run).lower())
        for span in corpus.spans:
            for text in (span.match_text, span.title, span.section):
                for _, _, run in proper_noun_runs(text):
                    for phrase in _sub_phrases(self.trim(run, free_runs)):
                        self._add(phrase, span.index)
        # Names in document titles are what documents are *about*: subjects a claim can be
        # anchored to (a country, a university, a scholarship), unlike a test name or a degree.
        self.title_names: set[str] = set()
        # The titles as written: "University of Calvessa International Office: Admissions" is
        # about the University of Calvessa, though its leading words are trimmed as ordinary.
        self.titles = [document.title.lower() for document in corpus.documents]
        for document in corpus.documents:
            for _, _, run in proper_noun_runs(document.title):
                for phrase in _sub_phrases(self.trim(run, free_runs)):
                    self.display.setdefault(phrase.lower(), phrase)
                    self.title_names.add(phrase.lower())
        self.free_names = {n for n in free_runs if n in self.spans_by_name}
        self.names = sorted(self.display.values(), key=len, reverse=True)
        self._multiword = [n for n in self.spans_by_name if " " in n and self.is_name(n)]
        self._aliases: dict[str, str | None] = {}
        self._contained: dict[str, set[str]] = {}
        self._pattern = (
            re.compile(r"\b(?:" + "|".join(re.escape(n) for n in self.names) + r")\b")
            if self.names
            else None
        )
        # Acronyms the corpus declares for what its documents are about ("Brennport Institute
        # of Technology (BIT)"): "BIT's deadline" is about that institute.
        self.acronyms: dict[str, str] = {}
        for span in corpus.spans:
            for text in (span.match_text, span.title, span.section):
                for long, short in declared_acronyms(text):
                    key = self.trim(long, free_runs).lower()
                    if key in self.spans_by_name and self.is_subject(key):
                        self.acronyms.setdefault(short, key)
        self._acronym_pattern = (
            re.compile(r"\b(?:" + "|".join(re.escape(a) for a in self.acronyms) + r")\b")
            if self.acronyms
            else None
        )
        total = max(len(corpus.spans), 1)
        self.idf = {
            name: math.log(1 + total / (1 + len(spans)))
            for name, spans in self.spans_by_name.items()
        }

    def trim(self, run: str, names: set[str] | None = None) -> str:
        """Drop leading function and common words: 'Minimum LEXT' -> 'LEXT'; a run that is a
        name as a whole (`names`, lower-cased) keeps them."""
        words = _trim_function_words(run).split()
        while (
            len(words) > 1
            and words[0].lower() in self.common_words
            and " ".join(words).lower() not in (names or self.free_names)
        ):
            words = words[1:]
        return " ".join(words)

    def _add(self, phrase: str, span_index: int) -> None:
        if not phrase:
            return
        self.spans_by_name[phrase.lower()].add(span_index)
        self.display.setdefault(phrase.lower(), phrase)

    def is_name(self, phrase: str) -> bool:
        """Whether `phrase` is a proper name the corpus uses (not an ordinary capitalised word)."""
        key = phrase.lower()
        if key not in self.spans_by_name:
            return False
        return len(phrase.split()) > 1 or key not in self.common_words

    def is_anchor(self, phrase: str) -> bool:
        """Whether a name can anchor a claim to a subject: a multi-word name, or a single word
        that some document is about (a title names it, or starts with it: "IslandCare" of
        "IslandCare Student Scheme")."""
        phrase = self.display.get(phrase.lower(), phrase)
        if phrase.isupper():
            return False  # an acronym names a test or a currency, not a subject
        key = phrase.lower()
        return self.is_name(phrase) and (
            len(phrase.split()) > 1
            or key in self.title_names
            or any(t.startswith(key + " ") for t in self.title_names)
        )

    def is_subject(self, name: str) -> bool:
        """Whether some document is about `name`: a title names it or starts with it."""
        key = name.lower()
        return (
            key in self.title_names
            or any(t.startswith(key + " ") for t in self.title_names)
            or (" " in key and any(_title_starts_with(t, key) for t in self.titles))
        )

    def contained_names(self, name: str) -> set[str]:
        """The single-word names inside a longer one ("tavora" in "tavora directorate of
        migration"): a span about the longer name is about them too."""
        if name not in self._contained:
            self._contained[name] = {
                w for w in name.split()[:-1] if w in self.spans_by_name and self.is_anchor(w)
            }
        return self._contained[name]

    def knows(self, phrase: str) -> bool:
        return phrase.lower() in self.spans_by_name

    def spans_mentioning(self, phrase: str) -> set[int]:
        return self.spans_by_name.get(phrase.lower(), set())

    def resolve(self, phrase: str) -> str | None:
        """The corpus name a short form stands for: the one known name (preferring those that
        documents are about) holding all of its words in order, of the same kind."""
        key = phrase.lower()
        if key in self._aliases:
            return self._aliases[key]
        words = key.split()
        kind = kind_of(phrase)
        candidates = [
            name
            for name in self._multiword
            if len(name.split()) > len(words)
            and _subsequence(words, name.split())
            and (kind in ("place", "other") or kind_of(name) == kind)
        ]
        if len(candidates) > 1:
            candidates = [c for c in candidates if c in self.title_names]
        self._aliases[key] = candidates[0] if len(candidates) == 1 else None
        return self._aliases[key]

    def mentions(self, text: str) -> list[Mention]:
        """Known names (longest first), short forms of known names, and unknown multi-word
        proper-noun runs in `text`. An unknown run wins over the known names inside it when its
        head noun is its own ("Arnholt Digital Futures Grant" is not "Arnholt")."""
        known: list[Mention] = []
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                name = match.group(0)
                if self.is_name(name):
                    known.append(Mention(name, match.start(), match.end(), True, kind_of(name)))
        extra: list[Mention] = []
        replaced: set[int] = set()
        for start, end, run in _runs_without_possessives(text):
            trimmed = self.trim(run)
            if not trimmed or self.knows(trimmed):
                continue
            start = end - len(trimmed) if run.endswith(trimmed) else start
            inside = [i for i, m in enumerate(known) if start <= m.start and m.end <= end]
            overlapping = any(start < m.end and m.start < end for m in known)
            single = len(trimmed.split()) == 1
            if single and (overlapping or trimmed.lower() in self.common_words):
                continue
            alias = self.resolve(trimmed)
            if alias is not None:
                extra.append(Mention(trimmed, start, end, True, kind_of(alias), alias))
                replaced.update(inside)
                continue
            if single:
                continue
            head_start = end - len(trimmed.split()[-1])
            if head_noun(trimmed) != trimmed.split()[-1].lower():
                head_start = start  # "University of X": the head is the first word
            head_is_known = any(known[i].start <= head_start < known[i].end for i in inside)
            if overlapping and (
                head_is_known or not inside or kind_of(trimmed) in ("place", "other")
            ):
                continue
            extra.append(Mention(trimmed, start, end, False, kind_of(trimmed)))
            replaced.update(inside)
        found = [m for i, m in enumerate(known) if i not in replaced] + extra
        if self._acronym_pattern is not None:
            for match in self._acronym_pattern.finditer(text):
                full = self.acronyms[match.group(0)]
                found = [
                    m for m in found if not (m.start == match.start() and m.end == match.end())
                ]
                found.append(
                    Mention(match.group(0), match.start(), match.end(), True, kind_of(full), full)
                )
        return sorted(found, key=lambda m: m.start)


def _subsequence(words: list[str], name_words: list[str]) -> bool:
    position = 0
    for word in words:
        try:
            position = name_words.index(word, position) + 1
        except ValueError:
            return False
    return True


def _runs_without_possessives(text: str) -> list[tuple[int, int, str]]:
    """Proper-noun runs split after a possessive: "Tavora's Study Residence Permit" is two."""
    runs = []
    for start, end, run in proper_noun_runs(text):
        offset = 0
        for match in re.finditer(r"['\u2019]s\b\s*", run):
            runs.append((start + offset, start + match.start(), run[offset : match.start()]))
            offset = match.end()
        if offset < len(run):
            runs.append((start + offset, end, run[offset:]))
    return [r for r in runs if r[2].strip()]
