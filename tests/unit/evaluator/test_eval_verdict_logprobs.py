"""Reading a one-token verdict from its alternatives' probabilities."""

from __future__ import annotations

import math

import pytest

from advisor_evaluator.judging.logprobs import option_of, read_logprob_verdict

pytestmark = pytest.mark.unit


def top(**probabilities: float) -> list[tuple[str, float]]:
    return [(token.replace("_", " "), math.log(p)) for token, p in probabilities.items()]


@pytest.mark.parametrize(
    ("token", "option"),
    [
        ("A", "A"),
        (" A", "A"),
        ("a", "A"),
        ("A.", "A"),
        ('"B"', "B"),
        ("**B", "B"),
        ("\u2581B", "B"),
        ("tie", "tie"),
        (" Tie", "tie"),
        ("TIE", "tie"),
        ("Response", None),
        ("AB", None),
        ("", None),
        ("The", None),
    ],
)
def test_tokens_normalise_to_their_option(token: str, option: str | None) -> None:
    assert option_of(token) == option


def test_the_mass_of_spellings_of_one_option_is_summed() -> None:
    # The top token is not an answer, and "B" alone beats "A" alone: A + " A" still wins.
    reading = read_logprob_verdict(
        [
            ("Response", math.log(0.4)),
            ("B", math.log(0.25)),
            ("A", math.log(0.2)),
            (" A", math.log(0.15)),
        ]
    )
    assert reading.preference == "A"
    assert reading.masses["A"] == pytest.approx(0.35)
    assert reading.option_mass == pytest.approx(0.6)
    assert reading.margin == pytest.approx(0.1 / 0.6)
    assert reading.first_slot_lean == pytest.approx(0.1 / 0.6)


def test_tie_can_win_and_an_exact_draw_is_a_tie() -> None:
    assert read_logprob_verdict(top(tie=0.5, A=0.2, B=0.1)).preference == "tie"
    drawn = read_logprob_verdict(top(A=0.3, B=0.3))
    assert drawn.preference == "tie" and drawn.margin == 0.0


def test_no_option_among_the_alternatives_is_unparseable() -> None:
    reading = read_logprob_verdict(top(Response=0.6, The=0.3))
    assert reading.preference is None and reading.margin is None
    assert reading.first_slot_lean is None and reading.option_mass == 0.0


def test_the_chosen_token_listed_again_among_alternatives_counts_once() -> None:
    # Endpoints give the chosen token and then its alternatives, which include it.
    reading = read_logprob_verdict(
        [("A", math.log(0.5)), ("A", math.log(0.5)), ("B", math.log(0.3))]
    )
    assert reading.masses["A"] == pytest.approx(0.5) and reading.margin == pytest.approx(0.25)
