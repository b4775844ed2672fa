"""Read a judge's verdict out of free text.

Judges wrap JSON in prose or code fences, use single quotes, trailing commas, "Response A" for
"A", or write scores as "2/3". Everything recoverable is recovered; what is not is reported as
unparseable (counted as such, never coerced to a tie as the paper's script did).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

Slot = Literal["A", "B", "tie"]
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PREFERENCE_TEXT = re.compile(
    r"[\"']?(?:preference|preferred|winner|verdict)[\"']?\s*[:=]\s*[\"']?\s*"
    r"(response[\s_]*a|response[\s_]*b|a|b|tie|draw|equal|neither|both)\b",
    re.IGNORECASE,
)
_SCORE = re.compile(r"^\s*([0-3](?:\.\d+)?)\s*(?:/\s*3)?\s*$")


@dataclass(frozen=True)
class SlotScores:
    domain_accuracy: float | None
    helpfulness: float | None


@dataclass(frozen=True)
class Verdict:
    """One judge answer: the preferred slot (None when unparseable) and the slot scores."""

    preference: Slot | None
    a: SlotScores
    b: SlotScores

    @property
    def parseable(self) -> bool:
        return self.preference is not None


UNPARSEABLE = Verdict(None, SlotScores(None, None), SlotScores(None, None))


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every balanced {...} in `text` that parses as a mapping (JSON, or a Python literal)."""
    found: list[dict[str, Any]] = []
    starts = [i for i, ch in enumerate(text) if ch == "{"]
    for start in starts:
        depth, in_string, quote, escaped = 0, False, "", False
        for end in range(start, len(text)):
            ch = text[end]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == quote:
                    in_string = False
                continue
            if ch in "\"'":
                in_string, quote = True, ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    parsed = _parse_mapping(text[start : end + 1])
                    if parsed is not None:
                        found.append(parsed)
                    break
    return found


def _parse_mapping(candidate: str) -> dict[str, Any] | None:
    cleaned = _TRAILING_COMMA.sub(r"\1", candidate)
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(cleaned)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _slot(value: Any) -> Slot | None:
    if not isinstance(value, str):
        return None
    word = re.sub(r"[\s_\-\"'.]", "", value).lower()
    if word in ("a", "responsea", "slota", "first"):
        return "A"
    if word in ("b", "responseb", "slotb", "second"):
        return "B"
    if word in ("tie", "draw", "equal", "neither", "both", "none"):
        return "tie"
    return None


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value <= 3 else None
    if isinstance(value, str):
        match = _SCORE.match(value)
        return float(match.group(1)) if match else None
    return None


def _lower_keys(mapping: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower().replace(" ", "_"): v for k, v in mapping.items()}


def _slot_scores(mapping: dict[str, Any], slot: str) -> SlotScores:
    for key in (f"response_{slot}", slot, f"response{slot}", f"slot_{slot}"):
        block = mapping.get(key)
        if isinstance(block, dict):
            block = _lower_keys(block)
            return SlotScores(
                _score(block.get("domain_accuracy")), _score(block.get("helpfulness"))
            )
    return SlotScores(
        _score(mapping.get(f"domain_accuracy_{slot}")), _score(mapping.get(f"helpfulness_{slot}"))
    )


def parse_verdict(text: str | None) -> Verdict:
    """The verdict in a judge's reply; `UNPARSEABLE` when no preference can be read."""
    if not text or not text.strip():
        return UNPARSEABLE
    for mapping in _json_objects(text):
        lowered = _lower_keys(mapping)
        preference = None
        for key in ("preference", "preferred", "winner", "verdict", "overall_preference"):
            if key in lowered:
                preference = _slot(lowered[key])
                break
        if preference is not None:
            return Verdict(preference, _slot_scores(lowered, "a"), _slot_scores(lowered, "b"))
    match = _PREFERENCE_TEXT.search(text)
    if match:
        preference = _slot(match.group(1))
        if preference is not None:
            return Verdict(preference, SlotScores(None, None), SlotScores(None, None))
    return UNPARSEABLE
