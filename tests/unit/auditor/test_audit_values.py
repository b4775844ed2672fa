"""Value normalisers: every wording of one amount, date or duration reduces to one key."""

from __future__ import annotations

import math

import pytest

from advisor_auditor.values import extract_values, same_value

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text", ["EUR 1,200", "1200 euros", "€1,200", "1,200 EUR", "1200 EUR", "1.2k EUR"]
)
def test_amounts_in_any_wording_normalise_to_one_key(text: str) -> None:
    (value,) = extract_values(f"The fee is {text}.")
    assert (value.kind, value.key) == ("money", ("EUR", 1200.0))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("$60", ("USD", 60.0)),
        ("110 US dollars", ("USD", 110.0)),
        ("£8,200", ("GBP", 8200.0)),
        ("60 pounds", ("GBP", 60.0)),
        ("27,300 Swiss francs", ("CHF", 27300.0)),
    ],
)
def test_currencies(text: str, key: tuple[str, float]) -> None:
    assert extract_values(text)[0].key == key


@pytest.mark.parametrize(
    "text",
    [
        "15 March 2027",
        "March 15, 2027",
        "15 Mar 2027",
        "2027-03-15",
        "Monday, 15 March 2027",
        "Mar 15, 2027",
    ],
)
def test_dates_in_any_wording_normalise_to_one_key(text: str) -> None:
    (value,) = extract_values(f"Apply by {text}.")
    assert (value.kind, value.key) == ("date", ("date", 2027, 3, 15))


def test_invalid_date_and_the_verb_may_are_not_dates() -> None:
    assert "date" not in {v.kind for v in extract_values("31 February 2026")}
    assert [v.kind for v in extract_values("Students may 20 hours per week work")] == ["hours"]


def test_durations_compare_across_units() -> None:
    months, year = extract_values("after 12 months")[0], extract_values("after 1 year")[0]
    assert months.kind == year.kind == "access"
    assert same_value(months, year)
    weeks = extract_values("Processing takes 6 weeks")[0]
    assert (weeks.kind, weeks.key) == ("duration", ("days", 42.0))


def test_access_timing_from_arrival_and_never() -> None:
    now = extract_values("you can join as soon as you arrive")[0]
    never = extract_values("International students are not eligible for the scheme at any point")[0]
    assert now.key == ("days", 0.0) and never.key == ("days", math.inf)
    assert not same_value(now, never)


def test_scores_are_labelled_by_their_test_and_scales_are_skipped() -> None:
    values = extract_values("A minimum GPA of 3.50 on a 4.0 scale and LEXT 6.5; ACAT: 1,250.")
    assert [(v.kind, v.key) for v in values] == [
        ("score", ("GPA", 3.5)),
        ("score", ("LEXT", 6.5)),
        ("score", ("ACAT", 1250.0)),
    ]


def test_years_alone_and_percentages() -> None:
    assert extract_values("the 2026 intake") == []
    assert extract_values("a 15% discount")[0].key == ("percent", 15.0)


def test_hours_per_week() -> None:
    assert extract_values("work 20 hours a week")[0].key == ("hours", 20.0)
