"""Fourth pass: values an answer computes or rounds, short currency codes and table headers
that carry a unit and a period. Every sentence here is invented for the test."""

from __future__ import annotations

from advisor_auditor.arithmetic import (
    complement_of,
    derived_within,
    factors_in,
    is_approximate,
    period_of,
    rounds_to,
    scaled_from,
)
from advisor_auditor.claims import _segments
from advisor_auditor.corpus import table_unit, with_unit
from advisor_auditor.entities import kind_of
from advisor_auditor.units import read_currencies
from advisor_auditor.values import extract_values
from advisor_auditor.verify import _degree_levels

MONEY = [
    "The harbour levy is QT 1,250 per year for every student.",
    "Residents pay a monthly fee of QT 45 for the tram.",
    "The museum card costs Mr 30 a month; the library deposit is Mr 2,000.",
    "In 2031 fees rose for everyone.",
    "In 2032 fees fell again for every student.",
]


def _values(text: str) -> list:
    return extract_values(text, read_currencies(MONEY))


def test_two_letter_and_mixed_case_codes_are_read_as_currencies() -> None:
    currencies = read_currencies(MONEY)
    assert {"QT", "Mr"} <= set(currencies.codes)
    # A short English word before a year is never a currency.
    assert "In" not in currencies.codes
    (value,) = _values("The ferry pass costs QT 210.")
    assert value.kind == "money" and value.key == ("QT", 210.0)


def test_a_header_states_the_unit_and_period_of_its_cells() -> None:
    assert table_unit("Harbourtown (QT per month)") == "QT|month"
    assert table_unit("Fee (QT/year)") == "QT|year"
    assert with_unit("88", table_unit("Premium (QT per month)")) == "QT 88 per month"
    assert with_unit("1,500 per academic year", "QT") == "QT 1,500 per academic year"
    assert with_unit("3", table_unit("Length (years)")) == "3 years"
    assert with_unit("not covered", "QT") == "not covered"


def test_a_total_computed_from_the_claims_own_values_is_derived() -> None:
    text = "The levy is QT 180 plus QT 45 for the card: QT 225 in all."
    values = _values(text)
    assert derived_within(values[2], text, values)
    text = "Tuition is QT 700 per term, so QT 2,800 over the four terms."
    values = _values(text)
    assert derived_within(values[1], text, values)
    text = "Tuition is QT 700 per term and the deposit is QT 2,500."
    values = _values(text)
    assert not derived_within(values[1], text, values)


def test_a_value_scaled_by_a_named_factor_or_period_is_not_the_sources() -> None:
    claim = "The deposit is two months' rent, so about QT 640."
    source = "A shared room costs QT 320 per month."
    claimed = _values(claim)[-1]  # "two months" is a duration of its own
    (stated,) = _values(source)
    assert factors_in(claim) == {2.0}
    assert scaled_from(claimed, claim, stated, source, factors_in(claim))
    claim = "The pass is QT 25 a month, about QT 300 a year."
    values = _values(claim)
    assert period_of(claim, values[0]) == "month" and period_of(claim, values[1]) == "year"
    assert scaled_from(values[1], claim, values[0], claim, set())
    claim = "The pass is QT 400 a year."
    (claimed,) = _values(claim)
    assert not scaled_from(claimed, claim, values[0], "The pass is QT 25 a month.", set())


def test_a_rounded_value_and_a_complementary_share() -> None:
    claim = "Rent is roughly QT 1,240 in the north, QT 980 in the south and QT 870 inland."
    values = _values(claim)
    assert all(is_approximate(claim, v) for v in values)
    (north,) = _values("The northern average is QT 1,236.")
    assert rounds_to(values[0], claim, north)
    exact = "Rent is QT 1,240 in the north."
    assert not rounds_to(_values(exact)[0], exact, north)
    (paid,) = _values("You pay 25% of each bill.")
    (covered,) = _values("The plan covers 75% of each bill.")
    assert complement_of(paid, covered)
    assert not complement_of(paid, paid)


def test_a_score_takes_the_test_named_right_after_it() -> None:
    keys = [v.key for v in extract_values("They ask 7.0 on the LXT or 210 on the QPE.")]
    assert keys == [("LXT", 7.0), ("QPE", 210.0)]


def test_a_degree_name_is_a_programme_whatever_its_last_word() -> None:
    assert kind_of("MA Coastal Insurance Policy") == "other"
    assert kind_of("Harbour Student Policy") == "health"


def test_an_answers_table_row_is_read_with_its_header() -> None:
    answer = "Costs compared:\n\n| Item | Northport | Southport |\n|---|---|---|\n| Tram pass | QT 12 | QT 25 |\n"
    texts = [text for _, _, text, _ in _segments(answer)]
    assert "Item: Tram pass; Northport: QT 12; Southport: QT 25" in texts
    row = next(seg for seg in _segments(answer) if "Tram" in seg[2])
    assert answer[row[0] : row[1]] == "| Tram pass | QT 12 | QT 25 |"


def test_degree_levels_of_a_sentence() -> None:
    assert _degree_levels("Bachelor's graduates may stay 60 days.") == {"bachelor"}
    assert _degree_levels("Master's and doctoral graduates may apply.") == {"master", "phd"}


def test_a_header_unit_with_a_note_and_a_fractional_count() -> None:
    assert table_unit("Diploma (QT, whole programme)") == "QT"
    claim = "Tuition is QT 4,200 per year over 1.5 years, about QT 6,300 in all."
    values = _values(claim)
    assert 1.5 in factors_in(claim)
    assert derived_within(values[-1], claim, values)
