"""What each value in a text is the value *of*: its attribute words.

One sentence or table row often states several values ("TVP 480 a month there versus TVP 620
in Coralhaven"; "| Specialist care | Yes | TVP 25 per visit | 3 months |"). Comparing a claimed
value with whichever value of the best-matching span came first compares a room's rent with a
transport pass. Each value is therefore read with its own words: for prose, the words between
it and its neighbouring values within its clause; for a table cell, the row's first cell and
the cell's column header; for a "Label: value" line, the label.
"""

from __future__ import annotations

import re

from .values import Value

# Where one attribute-value pair ends and the next begins inside a sentence.
_BOUNDARY = re.compile(
    r"[.;!?](?!\d)|\s[\u2014\u2013]\s|\s-\s|,\s+(?:and|or|but|while|whereas|plus)\b|\bversus\b"
    r"|\bvs\.?\s|\bcompared with\b|\bwhile\b|\bwhereas\b|\bbut\b|\(|\)"
)

_RANGE_JOIN = re.compile(r"^\s*(?:and|to|-|\u2013|\u2014)\s*$")

_NEW_CLAUSE = re.compile(
    r",\s+(?=[^,]*?\b(?:is|are|was|were|will|can|must|may|has|have|had)\b)", re.IGNORECASE
)


def value_contexts(text: str, values: list[Value]) -> list[str]:
    """The attribute words of each value in `text` (values in reading order), values removed."""
    if not values:
        return []
    if _is_table_row(text):
        return _table_contexts(text, values)
    cuts = [m.start() for m in _BOUNDARY.finditer(text)]
    contexts = []
    for k, value in enumerate(values):
        left = max([c for c in cuts if c <= value.start] + [0])
        if k > 0:
            left = max(left, values[k - 1].end)
        right = min([c for c in cuts if c >= value.end] + [len(text)])
        if k + 1 < len(values):
            right = min(right, values[k + 1].start)
        before, after = text[left : value.start], text[value.end : right]
        # Between two values, the words up to a comma (or "and", "or") close the first pair
        # and the words after it open the next ("Bachelor applications close on A, Master
        # applications on B"; "apply by A and you'll get a decision by B").
        if k > 0 and left == values[k - 1].end:
            before = _after_comma(before)
        if k + 1 < len(values) and right == values[k + 1].start:
            after = _before_comma(after)
        # "..., the Bachelor closing date" names the value's attribute; "..., interviews are
        # held in March" is a new clause about something else.
        clause = _NEW_CLAUSE.search(after)
        if clause:
            after = after[: clause.start()]
        # "Label: value" - the label names the attribute even when a clause boundary falls
        # between the label and the value.
        label = re.match(r"^\s*([^:;]{2,60}):\s", text)
        prefix = label.group(1) if label and label.end() <= value.start and left > 0 else ""
        contexts.append(f"{prefix} {before} {after}".strip())
    # "between SJK 4,900 and SJK 6,400 a month": both ends of a range are values of one
    # attribute, named around the range as a whole.
    for k in range(len(values) - 1):
        if _RANGE_JOIN.match(text[values[k].end : values[k + 1].start]):
            both = f"{contexts[k]} {contexts[k + 1]}"
            contexts[k] = contexts[k + 1] = both
    return contexts


_PAIR_SEPARATOR = re.compile(r",|\band\b|\bor\b")


def _before_comma(between: str) -> str:
    """The words after one value up to the first separator: they close its pair."""
    first = _PAIR_SEPARATOR.search(between)
    return between[: first.start()] if first else between


def _after_comma(between: str) -> str:
    """The words before a value from the last separator: they open its pair."""
    ends = [m.end() for m in _PAIR_SEPARATOR.finditer(between)]
    return between[ends[-1] :] if ends else between


def _is_table_row(text: str) -> bool:
    """A linearised table row ('Header: cell; Header: cell'), see corpus.split_spans."""
    cells = text.split("; ")
    return len(cells) >= 2 and all(": " in cell for cell in cells)


def _table_contexts(text: str, values: list[Value]) -> list[str]:
    cells: list[tuple[int, int, str]] = []
    position = 0
    for piece in text.split("; "):
        cells.append((position, position + len(piece), piece))
        position += len(piece) + 2
    row_label = cells[0][2]
    contexts = []
    for value in values:
        start, _, cell = next((c for c in cells if c[0] <= value.start < c[1]), cells[0])
        header, _, content = cell.partition(": ")
        offset = start + len(header) + 2
        rest = content[: value.start - offset] + " " + content[value.end - offset :]
        label = "" if start == 0 else row_label
        contexts.append(f"{label} {header} {rest}".strip())
    return contexts


# Words that say how often, how roughly or within what bounds a value holds ("TVP 35 a month",
# "about", "at least"): they name no attribute, so two values sharing only them are not values
# of the same thing.
_NOT_ATTRIBUTE = frozenset(
    "day days daily week weeks weekly month months monthly year years yearly annual annually "
    "semester semesters term terms per each about around roughly approximately approx some "
    "between least most up total overall typical typically usually currently just also "
    "is are be will would costs cost during within before after from until into over under "
    "without plus including via".split()
)


# The period a value is stated per: no attribute, but it tells "TVP 62 per month" from
# "TVP 744 per year" when the attribute words tell nothing.
PERIOD_WORDS = frozenset(
    "day days daily week weeks weekly month months monthly year years yearly annual annually "
    "semester semesters term terms".split()
)


def attribute_words(words: set[str], periods: bool = False) -> set[str]:
    """`words` less those that name no attribute (see _NOT_ATTRIBUTE); with `periods`, the
    period words are kept."""
    return {w for w in words if w not in _NOT_ATTRIBUTE or (periods and w in PERIOD_WORDS)}
