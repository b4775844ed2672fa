"""Split an answer (or a question) into atomic, check-worthy claims.

A claim is one sentence or list item that states something checkable: a value (amount, date,
duration, threshold), a named program/scholarship/institution/visa/scheme, or an eligibility or
requirement rule. Headings and lead-ins are kept as context, because "Visa processing takes
6 weeks" names its country only through the heading or the question it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .corpus import TABLE_RULE, split_cells, split_sentences, strip_markdown, table_unit, with_unit
from .entities import Gazetteer, Mention
from .units import NONE, Currencies
from .values import Value, extract_values

_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")
_BOLD_LEAD = re.compile(r"^\s*\*\*([^*]+?)\*\*\s*(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
RULE_WORDS = re.compile(
    r"\b(?:eligib\w*|qualif\w*|requir\w*|must|need(?:s|ed)?|only|not offer|does not|doesn't|"
    r"cannot|can't|open to|restricted|limited to|minimum|at least|deadline|closes?|due)\b",
    re.IGNORECASE,
)


@dataclass
class Claim:
    """One check-worthy statement of a message, with where it sits and what it mentions.

    `start`/`end` index the message content; `values` and `mentions` index `text`.
    """

    id: str
    turn: int
    text: str
    start: int
    end: int
    values: list[Value]
    mentions: list[Mention]
    heading: str = ""
    role: str = "answer"  # "answer" or "premise" (a statement the question presupposes)
    context_mentions: list[Mention] = field(default_factory=list)


def _lines(content: str) -> list[tuple[int, str]]:
    offset, lines = 0, []
    for line in content.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    return lines


def _segments(content: str) -> list[tuple[int, int, str, str]]:
    """(start, end, raw text, heading in force) for each sentence or list item of `content`."""
    heading = ""
    segments: list[tuple[int, int, str, str]] = []
    lines = _lines(content)
    headers: list[str] | None = None
    for index, (line_start, line) in enumerate(lines):
        if not line.strip():
            headers = None
            continue
        if line.strip().startswith("|"):
            # An answer's table row is read with its header, as the corpus's rows are: "|
            # Transport pass | Kr 12 | Kr 25 |" says nothing of which city costs what.
            if TABLE_RULE.match(line):
                continue
            cells = split_cells(line)
            following = lines[index + 1][1] if index + 1 < len(lines) else ""
            if headers is None and TABLE_RULE.match(following):
                headers = cells
                continue
            segments.append(
                (line_start, line_start + len(line), _linear_row(cells, headers), heading)
            )
            continue
        headers = None
        match = _HEADING.match(line)
        if match:
            heading = strip_markdown(match.group(1))
            continue
        body_start = line_start
        body = line
        item = _LIST_ITEM.match(line)
        if item:
            body_start, body = line_start + item.end(), line[item.end() :]
        lead = _BOLD_LEAD.match(body)
        if lead and not lead.group(1).rstrip().endswith(":"):
            # "**Getting your Norvania study visa.** Here is how..." - the bold part is a title.
            heading = strip_markdown(lead.group(1))
            rest = lead.group(2)
            if not rest.strip():
                continue
            body_start += body.index(rest) if rest else len(body)
            body = rest
        elif lead and not lead.group(2).strip():
            heading = strip_markdown(lead.group(1)).rstrip(":")  # "**Action steps:**"
            continue
        for start, end, sentence in split_sentences(body, body_start):
            segments.append((start, end, sentence, heading))
    return segments


def _linear_row(cells: list[str], headers: list[str] | None) -> str:
    """'Header: cell; Header: cell', each bare number with the unit its header declares; the
    cells alone when the row has no header of its width."""
    if headers is None or len(headers) != len(cells):
        return "; ".join(c for c in cells if c)
    return "; ".join(
        f"{h}: {with_unit(c, table_unit(h))}" if h else c
        for h, c in zip(headers, cells, strict=True)
        if c
    )


def is_check_worthy(text: str, values: list[Value], mentions: list[Mention]) -> bool:
    """Values, names or rules make a statement checkable; advice alone does not."""
    return bool(values or mentions or RULE_WORDS.search(text))


def extract_claims(
    content: str,
    gazetteer: Gazetteer,
    *,
    turn: int,
    id_prefix: str,
    role: str = "answer",
    currencies: Currencies = NONE,
) -> list[Claim]:
    """The check-worthy claims of one message, in reading order."""
    claims: list[Claim] = []
    for start, end, raw, heading in _segments(content):
        text = strip_markdown(raw)
        if not text:
            continue
        values = extract_values(text, currencies)
        mentions = gazetteer.mentions(text)
        if not is_check_worthy(text, values, mentions):
            continue
        claims.append(
            Claim(
                id=f"{id_prefix}:{turn}:{len(claims)}",
                turn=turn,
                text=text,
                start=start,
                end=end,
                values=values,
                mentions=mentions,
                heading=heading,
                role=role,
            )
        )
    return claims
