"""The auditor on a corpus written unlike data/sample (issue 15): its own currency code, values
as table cells and "Label: value" bullets, names made of ordinary words, sentences that state
several values for several attributes."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_auditor.attributes import value_contexts
from advisor_auditor.units import read_currencies
from advisor_auditor.values import extract_values

pytestmark = pytest.mark.unit

DOCS = {
    "entry-permit.md": """---
title: "Study Entry Permit - Quessary Office of Migration"
---

# Study Entry Permit

International students live in Quessary with a Study Entry Permit. All amounts are in Quessary dinars (QSD). Every student needs a permit; entry requirements are below and study plans are checked.

## Fees and processing

- Application fee: QSD 240
- Biometrics fee: QSD 45
- Standard processing time: 8 weeks
""",
    "harrow-university.md": """---
title: "Harrow University - International admissions"
---

# Harrow University

Harrow University is a public university in Quessary.

## Tuition

| Level | Tuition per year | Student services fee |
|---|---|---|
| Bachelor | QSD 9,800 | QSD 180 |
| Master | QSD 13,900 | QSD 180 |

## Requirements

- English: ALT overall 6.5 with no band below 6.0, or GAEE total 88
""",
    "harrow-tidewell-scholarship.md": """---
title: "Harrow Tidewell Scholarship"
---

# Harrow Tidewell Scholarship

The Harrow Tidewell Scholarship pays a monthly stipend of QSD 1,350 to Master students at Harrow University.

- Minimum GPA: 3.4 on a 4.0 scale
""",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for

    folder: Path = tmp_path_factory.mktemp("unseen-sources")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return engine_for(load_corpus(folder))


def _audit(engine, question: str, answer: str):
    return engine.auditor.audit_messages("u-1", [("user", question), ("assistant", answer)])


def test_a_corpus_currency_is_read_from_its_use_and_declaration() -> None:
    currencies = read_currencies(
        [
            "All amounts are in Quessary dinars (QSD).",
            "- Application fee: QSD 240",
            "| Master | QSD 13,900 | QSD 180 |",
            "English: ALT overall 6.5, or GAEE total 88",
            "ALT 7.0 is the minimum score.",
        ]
    )
    assert currencies.codes == {"QSD"}
    assert extract_values("a stipend of QSD 1,350", currencies)[0].kind == "money"
    assert extract_values("about 1,350 dinars", currencies)[0].key == ("QSD", 1350.0)


def test_a_score_takes_the_label_of_its_own_clause() -> None:
    values = extract_values(
        "ALT overall 6.5 with every band at 6.0 or higher, or a GAEE total of 88"
    )
    assert [v.key for v in values] == [("ALT", 6.5), ("ALT", 6.0), ("GAEE", 88.0)]


def test_each_value_keeps_its_attribute_words() -> None:
    row = "Level: Master; Tuition per year: QSD 13,900; Student services fee: QSD 180"
    contexts = value_contexts(row, extract_values(row, read_currencies([row, row])))
    assert contexts == ["Level: Master Tuition per year", "Level: Master Student services fee"]
    text = "A room costs about QSD 480 a month there versus QSD 620 in Harrow"
    first, second = value_contexts(text, extract_values(text, read_currencies([text, text])))
    assert "room" in first and "Harrow" in second and "room" not in second
    text = "The deadline is 28 February 2026, interviews are held online in March"
    (deadline,) = value_contexts(text, extract_values(text))
    assert "deadline" in deadline and "interviews" not in deadline
    text = "Submit everything before 19 Feb 2026, the Bachelor closing date"
    assert "Bachelor closing date" in value_contexts(text, extract_values(text))[0]


def test_names_made_of_ordinary_words_and_short_forms(engine) -> None:
    gazetteer = engine.index.gazetteer
    assert gazetteer.is_name("Study Entry Permit")
    (mention,) = [m for m in gazetteer.mentions("Apply for the Tidewell Scholarship.") if m.known]
    assert mention.name == "harrow tidewell scholarship"


def test_values_of_one_sentence_are_compared_attribute_by_attribute(engine) -> None:
    audit = _audit(
        engine,
        "What English and GPA do I need for the Tidewell Scholarship at Harrow University?",
        "You need ALT 6.5 overall with every band at 6.0 or higher, or a GAEE total of 88. "
        "The scholarship pays a QSD 1,350 monthly stipend, but it asks for a 3.4 GPA.",
    )
    assert not audit.flagged, [(f.claim, f.checks) for f in audit.errors]


def test_a_wrong_cell_is_contradicted_by_the_cell_of_its_attribute(engine) -> None:
    audit = _audit(
        engine,
        "What is Master tuition at Harrow University?",
        "Master tuition at Harrow University is QSD 12,900 per year.",
    )
    (error,) = audit.errors
    assert error.error_class == "number"
    (check,) = [c for c in error.checks if c.verdict.value == "contradicted"]
    assert check.expected == "QSD 13,900"  # the tuition cell, not the services fee of the row


def test_the_askers_own_figures_are_not_checked(engine) -> None:
    audit = _audit(
        engine,
        "I have a GPA of 3.6. Can I get the Harrow Tidewell Scholarship?",
        "Your GPA of 3.6 is above the Harrow Tidewell Scholarship's minimum of 3.4.",
    )
    assert not audit.flagged, [(f.claim, f.checks) for f in audit.errors]
