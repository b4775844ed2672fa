"""Load the source corpus (docs/design.md#source-corpus: a folder of `.md`/`.txt` documents with
optional front matter) and cut it into evidence spans: sentences, list items and table rows.

Every span keeps its document path and its character span in the document, so a finding can
cite exactly what it rests on. Table rows are also linearised with their column headers
("Country: Norvania; Fee: EUR 180"), because a row without its header says nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import CorpusError

DOCUMENT_SUFFIXES = (".md", ".txt", ".markdown")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
# A sentence ends at . ! ? followed by space and a capital, digit or markup; decimals and
# abbreviations such as "e.g." do not end one.
# A unit a table states once for all its cells, in a column header or the table's heading:
# "Typical monthly costs (TVP)", "Fee (EUR)", "Share (%)".
# The unit may carry the period its amounts are stated per ("UF per month", "ZHR/year"), or
# be a unit of time ("Duration (years)"), which the cells are then read in.
_TABLE_UNIT = re.compile(
    r"\((?P<unit>[A-Z]{2,5}|[A-Z][a-z]|[€$£¥%]|years|months|weeks|days)"
    r"(?:\s*(?:/|per|a)\s*(?P<period>(?:academic\s+)?(?:year|month|semester|week|term)))?"
    r"(?:,\s*[^()]*)?\)\s*$"
)
_TIME_UNITS = frozenset({"years", "months", "weeks", "days"})
# A cell that is a number, alone or stated per a period ("1,500 per academic year").
_BARE_NUMBER = re.compile(
    r"^(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<rest>\s+(?:per|a|an|each|every)\s+(?:academic\s+)?(?:year|month|semester|week|term)\b.*)?$"
)
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<=[.!?])\s+(?=[A-Z0-9*\"(])")


@dataclass(frozen=True)
class Document:
    """One source document: its path relative to the corpus root, front matter and text."""

    path: str
    text: str
    title: str
    url: str | None = None
    retrieved_at: str | None = None


@dataclass(frozen=True)
class Span:
    """A piece of a document a claim can be checked against.

    `start`/`end` index `Document.text` (the whole file, front matter included); `text` is
    the verbatim quote; `match_text` is what retrieval and value checks read (the quote with
    markdown removed, table rows with their headers).
    """

    index: int
    doc_path: str
    start: int
    end: int
    text: str
    match_text: str
    title: str
    section: str

    @property
    def context_text(self) -> str:
        """Title and section with the span: a sentence like 'The fee is EUR 100' names its
        subject only through the document it sits in."""
        return f"{self.title} | {self.section} | {self.match_text}"


@dataclass
class Corpus:
    """The documents and their spans; `fingerprint` identifies the corpus content."""

    documents: list[Document]
    spans: list[Span] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for document in sorted(self.documents, key=lambda d: d.path):
            digest.update(document.path.encode() + b"\0" + document.text.encode() + b"\0")
        return digest.hexdigest()[:16]

    def document(self, path: str) -> Document:
        return next(d for d in self.documents if d.path == path)


def strip_markdown(text: str) -> str:
    """Remove emphasis, code ticks and link targets; keep the words."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return text.strip()


def _front_matter(text: str, path: str) -> tuple[dict[str, object], int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: front matter is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: front matter must be a mapping")
    return data, match.end()


def parse_document(path: str, text: str) -> tuple[Document, int]:
    """A Document and the offset where its body starts (after any front matter)."""
    meta, body_start = _front_matter(text, path)
    first_heading = re.search(r"^#\s+(.+)$", text[body_start:], re.MULTILINE)
    title = str(meta.get("title") or (first_heading.group(1) if first_heading else Path(path).stem))
    document = Document(
        path=path,
        text=text,
        title=strip_markdown(title),
        url=str(meta["url"]) if meta.get("url") else None,
        retrieved_at=str(meta["retrieved_at"]) if meta.get("retrieved_at") else None,
    )
    return document, body_start


def split_cells(line: str) -> list[str]:
    return [strip_markdown(cell) for cell in line.strip().strip("|").split("|")]


def table_unit(text: str) -> str | None:
    """The unit a header or heading declares for the numbers under it, if any, with the
    period it states them per ("UF per month" -> "UF|month")."""
    match = _TABLE_UNIT.search(text.strip())
    if not match:
        return None
    period = match.group("period")
    return match.group("unit") + (f"|{period}" if period else "")


def with_unit(cell: str, unit: str | None) -> str:
    """A bare number in a cell with the unit its table declares ("620" -> "TVP 620", "88"
    under "UF per month" -> "UF 88 per month", "2" under "years" -> "2 years"), so it is read
    as the amount it is and not as a score."""
    match = _BARE_NUMBER.match(cell)
    if unit is None or not match:
        return cell
    unit, _, period = unit.partition("|")
    if unit in _TIME_UNITS:
        return cell if match.group("rest") else f"{cell} {unit}"
    per = f" per {period}" if period and not match.group("rest") else ""
    return f"{cell}{unit}{per}" if unit == "%" else f"{unit} {cell}{per}"


def split_sentences(line: str, offset: int = 0) -> Iterable[tuple[int, int, str]]:
    """(start, end, sentence) for each sentence of one line; offsets shifted by `offset`."""
    start = 0
    for match in _SENTENCE_END.finditer(line):
        yield offset + start, offset + match.start(), line[start : match.start()]
        start = match.end()
    if line[start:].strip():
        yield offset + start, offset + len(line.rstrip()), line[start:].rstrip()


def split_spans(document: Document, body_start: int, first_index: int = 0) -> list[Span]:
    """Cut a document body into sentence, list-item and table-row spans."""
    spans: list[Span] = []
    section = ""
    headers: list[str] | None = None
    position = body_start
    lines = document.text[body_start:].split("\n")

    def add(start: int, end: int, quote: str, match_text: str) -> None:
        if match_text.strip():
            spans.append(
                Span(
                    first_index + len(spans),
                    document.path,
                    start,
                    end,
                    quote.strip(),
                    match_text.strip(),
                    document.title,
                    section,
                )
            )

    for index, line in enumerate(lines):
        line_start = position
        position += len(line) + 1
        stripped = line.strip()
        if not stripped:
            headers = None
            continue
        heading = _HEADING.match(stripped)
        if heading:
            section = strip_markdown(heading.group(2))
            headers = None
            continue
        if stripped.startswith("|"):
            if TABLE_RULE.match(stripped):
                continue
            cells = split_cells(stripped)
            next_line = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if headers is None and TABLE_RULE.match(next_line):
                headers = cells
                continue
            if headers is not None and len(headers) == len(cells):
                section_unit = table_unit(section)
                linear = "; ".join(
                    f"{h}: {with_unit(c, table_unit(h) or section_unit)}"
                    for h, c in zip(headers, cells, strict=True)
                )
            else:
                linear = "; ".join(cells)
            add(line_start, line_start + len(line), line, linear)
            continue
        headers = None
        leading = len(line) - len(line.lstrip())
        if _LIST_ITEM.match(line):
            add(
                line_start + leading,
                line_start + len(line.rstrip()),
                stripped,
                strip_markdown(_LIST_ITEM.sub("", line)),
            )
            continue
        for start, end, sentence in split_sentences(line, line_start):
            add(start, end, sentence, strip_markdown(sentence))
    return spans


def read_corpus_folder(folder: Path) -> list[tuple[str, str]]:
    """(relative path, text) of every document under `folder`; clear errors naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: the sources folder does not exist")
    found: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in DOCUMENT_SUFFIXES:
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise CorpusError(f"{path}: cannot be read ({exc.strerror})") from None
        found.append((path.relative_to(folder).as_posix(), text))
    if not found:
        raise CorpusError(
            f"{folder}: the corpus is empty (no {'/'.join(DOCUMENT_SUFFIXES)} documents); "
            "an audit needs sources to verify against"
        )
    return found


def build_corpus(files: Iterable[tuple[str, str]]) -> Corpus:
    """Parse documents and split them into spans; refuse an empty corpus or empty documents."""
    corpus = Corpus(documents=[])
    for path, text in files:
        document, body_start = parse_document(path, text)
        spans = split_spans(document, body_start, first_index=len(corpus.spans))
        if not spans:
            raise CorpusError(f"{path}: the document has no text to verify against")
        corpus.documents.append(document)
        corpus.spans.extend(spans)
    if not corpus.documents:
        raise CorpusError("the corpus is empty: an audit needs sources to verify against")
    return corpus


def load_corpus(folder: Path) -> Corpus:
    """Read and split the corpus under `folder`."""
    return build_corpus(read_corpus_folder(folder))
