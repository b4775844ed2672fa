"""Stop strings and streaming deltas: nothing emitted that is later cut, nothing lost."""

from __future__ import annotations

import pytest

from advisor_inference.engines.limits import completion_budget
from advisor_inference.engines.text_stream import StopStringFilter
from advisor_inference.errors import ContextLengthError, InvalidParameterError

pytestmark = pytest.mark.unit


def feed(stops: tuple[str, ...], pieces: list[str]) -> tuple[list[str], StopStringFilter]:
    f = StopStringFilter(stops=stops)
    text, out = "", []
    for i, piece in enumerate(pieces):
        text += piece
        out.append(f.update(text, final=i == len(pieces) - 1))
    return out, f


def test_stop_string_split_across_tokens_is_never_emitted() -> None:
    deltas, f = feed(("END",), ["Apply ", "early E", "N", "D and more"])
    assert deltas == ["Apply ", "early ", "", ""]
    assert f.stopped and f.final_text == "Apply early "


def test_held_back_prefix_is_released_when_it_does_not_complete() -> None:
    deltas, f = feed(("END",), ["a E", "x", "y"])
    assert "".join(deltas) == "a Exy" and deltas[0] == "a " and not f.stopped


def test_incomplete_utf8_character_waits_for_its_next_token() -> None:
    f = StopStringFilter()
    assert f.update("caf\ufffd") == "caf"
    assert f.update("café") == "é"


def test_earliest_of_several_stops_wins() -> None:
    _, f = feed(("C", "B"), ["xxBxxC"])
    assert f.final_text == "xx"


def test_completion_budget_range_checks_max_tokens() -> None:
    assert completion_budget(10, 5, 100) == 5
    assert completion_budget(10, None, 100) == 90
    assert completion_budget(10, None, 100, default=32) == 32
    with pytest.raises(InvalidParameterError, match="between 1 and 90") as err:
        completion_budget(10, 91, 100)
    assert err.value.param == "max_tokens" and err.value.status == 400
    with pytest.raises(ContextLengthError):
        completion_budget(100, None, 100)
