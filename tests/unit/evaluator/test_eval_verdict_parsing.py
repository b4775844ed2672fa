"""Reading judge verdicts out of malformed text; what cannot be read is unparseable."""

from __future__ import annotations

import pytest

from advisor_evaluator.judging.parsing import parse_verdict

pytestmark = pytest.mark.unit

CLEAN = (
    '{"response_a": {"domain_accuracy": 3, "helpfulness": 2, "note": "ok"}, '
    '"response_b": {"domain_accuracy": 1, "helpfulness": 1, "note": "wrong fee"}, '
    '"preference": "A"}'
)


def test_clean_json() -> None:
    verdict = parse_verdict(CLEAN)
    assert verdict.preference == "A"
    assert (verdict.a.domain_accuracy, verdict.a.helpfulness) == (3.0, 2.0)
    assert (verdict.b.domain_accuracy, verdict.b.helpfulness) == (1.0, 1.0)


@pytest.mark.parametrize(
    ("text", "preference"),
    [
        (f"Sure! Here is my verdict:\n```json\n{CLEAN}\n```\nHope this helps.", "A"),
        (
            "{'response_a': {'domain_accuracy': 2, 'helpfulness': 2}, 'preference': 'Response B',}",
            "B",
        ),
        ('{"Preference": "TIE", "response_a": {"domain_accuracy": "2/3"}}', "tie"),
        ('noise {not json} then {"preference": "b", "response_b": {"helpfulness": 3,},}', "B"),
        ('The "note" says {braces}. {"preference": "equal"}', "tie"),
        ("I could not format JSON. Preference: A, because it is correct.", "A"),
        ('{"winner": "Response_A"}', "A"),
        ('{"response_a": {"domain_accuracy": 2}, "preference": "B"', "B"),  # cut off at max_tokens
    ],
)
def test_malformed_but_recoverable(text: str, preference: str) -> None:
    assert parse_verdict(text).preference == preference


def test_scores_survive_string_and_fraction_forms() -> None:
    verdict = parse_verdict(
        '{"preference": "tie", "response_a": {"domain_accuracy": "2/3", '
        '"helpfulness": "3"}, "response_b": {"domain_accuracy": 7}}'
    )
    assert verdict.a.domain_accuracy == 2.0 and verdict.a.helpfulness == 3.0
    assert verdict.b.domain_accuracy is None  # out of the 0-3 range: not a score


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "Both answers have merits and weaknesses.",
        '{"response_a": {"domain_accuracy": 3}}',
        '{"preference": "maybe"}',
        '{"response_a": {"domain_accuracy": 2}, "preference": ',
        "A" * 5000 + "{" * 200,
    ],
)
def test_unreadable_verdicts_are_unparseable_not_ties(text: str | None) -> None:
    verdict = parse_verdict(text)
    assert verdict.preference is None and not verdict.parseable
