"""General rules of the value, entity and premise checks (issue 15, item 2), on a corpus written
for these tests: a value is compared only with the same attribute of the same subject, tables
state their unit once, tests are named in words, and what a question takes for granted is
checked against the sources' denials."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_auditor.attributes import value_contexts
from advisor_auditor.corpus import Document, split_spans
from advisor_auditor.premises import answer_sentence_building_on, as_statement
from advisor_auditor.units import declared_acronyms, read_currencies
from advisor_auditor.values import extract_values

pytestmark = pytest.mark.unit

DOCS = {
    "pellam-college.md": """---
title: "Pellam College of Design (PCD) - admissions"
---

# Pellam College of Design (PCD)

Pellam College of Design is a public college in Ostravel. Visa letters come from the Pellam International Office.

## Deadlines

For the 2027 intake, master's applications close on 2 March 2027 and applications to the BA close on 20 March 2027.

## Fees

- Application fee: ORL 70 per application (no fee waivers are granted)
- Tuition: ORL 8,400 per year, invoiced in two equal instalments of ORL 4,200.

## English

Applicants need a Corvid English Exam (CEE) score of at least 6.5 or a Lantern Academic score of at least 88, and a grade point average of at least 3.1.
""",
    "hollin-university.md": """---
title: "Hollin University - admissions"
---

# Hollin University

Hollin University is a public university in Ostravel.

## Deadlines

Master's applications close on 15 January 2027.
""",
    "ostravel-living.md": """---
title: "Living in Ostravel"
---

# Living in Ostravel

## Monthly costs by city (ORL)

| Item | Pellam | Hollin |
|---|---|---|
| Room in a residence | 610 | 540 |
| Student transport pass | 30 | 25 |

## Funds for the permit

- The Ostravel Study Permit requires proof of ORL 900 per month.
- Students usually spend between ORL 1,100 and ORL 1,400 per month.
""",
    "student-rooms.md": """---
title: "Student rooms"
---

# Student rooms

Rooms are let by the Pellam Student Lettings Office.
""",
    "ostravel-study-permit.md": """---
title: "Ostravel Study Permit"
---

# Ostravel Study Permit

The Ostravel Study Permit is issued by the Ostravel Migration Office.

- Documents: all documents must be uploaded by the deadline; there is no grace period for late documents.
""",
    "ostravel-health-plan.md": """---
title: "Ostravel Health Plan"
---

# Ostravel Health Plan

- Premium: ORL 40 per month (ORL 480 per year), paid by direct debit
""",
    "kestrin-award.md": """---
title: "Kestrin Award"
---

# Kestrin Award

- Funder: Brightwater Foundation
- Stipend: ORL 700 per month for master's students in Ostravel.
""",
    "ostravel-merit-grant.md": """---
title: "Ostravel Merit Grant"
---

# Ostravel Merit Grant

- Funder: Ostravel Ministry of Learning
- The grant pays ORL 500 per month to students in Ostravel.
""",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for

    folder: Path = tmp_path_factory.mktemp("same-attribute-sources")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return engine_for(load_corpus(folder))


def _audit(engine, question: str, answer: str):
    return engine.auditor.audit_messages("s-1", [("user", question), ("assistant", answer)])


def _errors(audit) -> list[tuple[str, str | None]]:
    return [(f.claim, f.error_class) for f in audit.errors]


# -- reading the sources -------------------------------------------------------------------


def test_a_table_states_its_unit_once_for_its_cells() -> None:
    text = "# T\n\n## Costs by city (ORL)\n\n| Item | Pellam |\n|---|---|\n| Room | 610 |\n"
    (row,) = split_spans(Document("t.md", text, "T"), 0)
    assert row.match_text == "Item: Room; Pellam: ORL 610"
    values = extract_values(
        row.match_text, read_currencies(["Application fee: ORL 70", "Tuition: ORL 8,400 per year"])
    )
    assert [(v.kind, v.key) for v in values] == [("money", ("ORL", 610.0))]


def test_tests_are_named_in_words_and_by_their_declared_acronym() -> None:
    assert declared_acronyms("a Corvid English Exam (CEE) score") == [
        ("Corvid English Exam", "CEE")
    ]
    assert declared_acronyms("the Pellam College of Design (PCD)") == [
        ("Pellam College of Design", "PCD")
    ]
    assert declared_acronyms("fees (ORL) apply") == []
    currencies = read_currencies(["a Corvid English Exam (CEE) score of at least 6.5"])
    text = (
        "a grade point average of 3.1, a Lantern Academic score of 88 or a Corvid English Exam "
        "score of 6.5"
    )
    keys = [v.key for v in extract_values(text, currencies)]
    assert keys == [("GPA", 3.1), ("LANTERN ACADEMIC", 88.0), ("CEE", 6.5)]


def test_values_between_commas_and_in_ranges_keep_their_own_words() -> None:
    text = "Bachelor forms close on 1 May 2027, Master forms on 9 May 2027"
    first, second = value_contexts(text, extract_values(text))
    assert "Master" not in first and "Master" in second
    text = "A room costs between ORL 500 and ORL 650 a month"
    low, high = value_contexts(text, extract_values(text, read_currencies([text] * 2)))
    assert "room" in low and "room" in high


# -- values: same attribute, same subject --------------------------------------------------


def test_an_equal_value_of_another_attribute_does_not_support(engine) -> None:
    audit = _audit(
        engine,
        "When is the master's deadline at Pellam College of Design?",
        "At Pellam College of Design, master's applications close on 20 March 2027.",
    )
    assert _errors(audit) == [
        ("At Pellam College of Design, master's applications close on 20 March 2027.", "date")
    ]


def test_a_single_value_of_another_attribute_does_not_contradict(engine) -> None:
    audit = _audit(
        engine,
        "How much is a transport pass in Pellam?",
        "In Ostravel a bike repair kit costs about ORL 45 a month.",
    )
    assert not audit.flagged, _errors(audit)


def test_table_cells_support_and_contradict_with_the_declared_unit(engine) -> None:
    right = _audit(
        engine,
        "What does a residence room cost in Pellam?",
        "A room in a residence costs about ORL 610 a month in Pellam.",
    )
    assert not right.flagged, _errors(right)
    assert any(f.verdict.value == "supported" for f in right.findings)


def test_the_period_tells_values_apart_when_attribute_words_do_not(engine) -> None:
    audit = _audit(
        engine,
        "What does the Ostravel Health Plan cost?",
        "The Ostravel Health Plan costs ORL 45 per month.",
    )
    (error,) = audit.errors
    (check,) = [c for c in error.checks if c.verdict.value == "contradicted"]
    assert check.expected == "ORL 40"


def test_derived_values_and_range_ends_are_not_contradicted(engine) -> None:
    audit = _audit(
        engine,
        "What will the permit want me to show at Pellam College of Design?",
        "The Ostravel Study Permit requires proof of ORL 900 per month, i.e. ORL 10,800 for a "
        "twelve-month permit. Students usually spend between ORL 1,100 and ORL 1,400 per month.",
    )
    assert not audit.flagged, _errors(audit)


def test_a_rival_subjects_page_does_not_decide(engine) -> None:
    audit = _audit(
        engine,
        "When do master's applications close at Hollin University?",
        "At Hollin University, master's applications close on 15 January 2027.",
    )
    assert not audit.flagged, _errors(audit)
    wrong = _audit(
        engine,
        "When do master's applications close at Hollin University?",
        "At Hollin University, master's applications close on 2 March 2027.",
    )
    (error,) = wrong.errors
    assert error.evidence[0].doc_path == "hollin-university.md"


def test_a_declared_acronym_anchors_a_claim_to_its_subject(engine) -> None:
    mentions = engine.index.gazetteer.mentions("PCD's application fee")
    assert [m.name for m in mentions] == ["pellam college of design"]


def test_named_tests_are_compared_with_their_own_thresholds(engine) -> None:
    audit = _audit(
        engine,
        "What English do I need for Pellam College of Design?",
        "You need a Lantern Academic score of at least 88 or a CEE score of at least 6.5, and a "
        "GPA of at least 3.1.",
    )
    assert not audit.flagged, _errors(audit)
    wrong = _audit(
        engine,
        "What English do I need for Pellam College of Design?",
        "You need a Lantern Academic score of at least 92.",
    )
    assert [f.error_class for f in wrong.errors] == ["number"]


# -- names ---------------------------------------------------------------------------------


def test_a_funder_is_decided_by_the_awards_own_page(engine) -> None:
    audit = _audit(
        engine,
        "Who funds the Kestrin Award?",
        "The Kestrin Award is funded by the Ostravel Ministry of Learning.",
    )
    assert [f.error_class for f in audit.errors] == ["entity"]
    right = _audit(
        engine,
        "Who funds the Kestrin Award?",
        "The Kestrin Award is funded by the Brightwater Foundation.",
    )
    assert not right.flagged, _errors(right)


def test_an_organisation_named_after_the_subject_belongs_to_it(engine) -> None:
    audit = _audit(
        engine,
        "I'm going to Pellam College of Design. Where can I rent a room?",
        "Rooms are let by the Pellam Student Lettings Office.",
    )
    assert not audit.flagged, _errors(audit)


# -- premises ------------------------------------------------------------------------------


def test_what_a_question_asserts() -> None:
    assert as_statement("The fee is waived in June, right?") == "The fee is waived in June"
    assert as_statement("Since the fee is waived, what else do I pay?") == "the fee is waived"
    assert as_statement("What does the permit cost?") is None
    assert as_statement("I start in May.") == "I start in May."


def test_the_answer_sentence_that_accepts_a_premise() -> None:
    premise = "the office gives a grace period for late documents"
    sentences = [(0, 30, "Yes, that will be fine."), (31, 60, "Upload them soon.")]
    assert answer_sentence_building_on(sentences, premise) == sentences[0]
    pushback = [(0, 40, "No, there is no grace period for documents.")]
    assert answer_sentence_building_on(pushback, premise) is None


def test_a_denied_premise_the_answer_goes_along_with_is_flagged(engine) -> None:
    question = (
        "The Ostravel Study Permit office gives a grace period for late documents, right? "
        "Mine will be a week late."
    )
    accepted = _audit(engine, question, "Yes, a week late will be fine. Just upload them soon.")
    assert _errors(accepted) == [("Yes, a week late will be fine.", "false_premise")]
    corrected = _audit(
        engine, question, "No: there is no grace period, so upload everything by the deadline."
    )
    assert not corrected.flagged, _errors(corrected)


def test_a_premise_the_sources_do_not_deny_is_not_flagged(engine) -> None:
    audit = _audit(
        engine,
        "Pellam College of Design charges an application fee, right?",
        "Yes, it is ORL 70 per application.",
    )
    assert not audit.flagged, _errors(audit)
