"""Rules of the auditor's third pass (issue 15), on a corpus written for these tests: a value
belongs to the subject named before it or in its own clause, a value pointed back to is not
stated again, a claim restating a span's values is not contradicted by their pairing, the
asker's figures hold for the whole conversation, a body named without the place that qualifies
it is the same body, a permit is paired with the subject of its own clause, and a list of
excluded nationalities is not a closed list of eligible ones. A rival subject's page does not
support a value the claim's own subject states otherwise, and the value after "versus" is the
other subject's. A programme is offered where the sources name it, and an act (administering an award,
evaluating degrees) is done by the body the sources name for it. A document is about the
name its title starts with, even when the title's leading words read as ordinary ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor_auditor.check_context import CLAUSE_BREAK
from advisor_auditor.roles import act_of
from advisor_auditor.verify import _qualified_form

pytestmark = pytest.mark.unit

DOCS = {
    "mirrow-university.md": """---
title: "Mirrow University - admissions"
---

# Mirrow University

Mirrow University is a public university in Essendra. Applications are made through the Essendra
Admissions Portal, operated by the Office of Higher Learning of Essendra.

## Programmes

- MSc Coastal Ecology
- MA Urban History

## Requirements

Master's applicants need a grade point average of at least 3.2.

## Fees

- Tuition: ESD 9,600 per year for international master's students.
""",
    "tallis-institute.md": """---
title: "Tallis Institute - admissions"
---

# Tallis Institute

Tallis Institute is a public institute in Essendra.

## Programmes

- MSc Glacier Studies

## Requirements

Master's applicants need a grade point average of at least 3.0.
""",
    "quarrendon.md": """---
title: "University of Quarrendon International Office: Admissions and fees"
---

# Admissions and fees

- Minimum grade point average for master's programmes: 2.7 on a 4.0 scale
""",
    "office-of-higher-learning.md": """---
title: "Office of Higher Learning"
---

# Office of Higher Learning

The Office of Higher Learning sets the national rules for degree recognition. Foreign degrees
are evaluated by the Essendra Degree Recognition Centre.
""",
    "lumen-travel-award.md": """---
title: "Lumen Travel Award"
---

# Lumen Travel Award

The award is funded by the Lumen Trust and administered by the Essendra Exchange Office.

- Deadline: 1 April 2027
- Results: 15 May 2027
- The award is open only to nationals of countries outside the Northern Compact.
- The award is tenable at public universities in Essendra.
""",
    "harrowgate-fund.md": """---
title: "Harrowgate Fund"
---

# Harrowgate Fund

The Harrowgate Fund is administered by the Northern Grants Council.

- Deadline: 30 June 2027
- Minimum grade point average: 3.5
""",
    "essendra-student-care.md": """---
title: "Essendra Student Care"
---

# Essendra Student Care

- Contribution: ESD 90 per month
- Specialist visits: 70% (you pay a 30% co-payment)
""",
    "living-costs.md": """---
title: "Living costs"
---

# Living costs

A typical single student spends ESD 640 a month on rent, food and transport.
""",
    "essendra-learner-permit.md": """---
title: "Essendra Learner Permit"
---

# Essendra Learner Permit

The Essendra Learner Permit is the study permit of Essendra. Graduates of Essendra may stay on
with the Graduate Pass for 12 months.
""",
    "norland-study-pass.md": """---
title: "Norland Study Pass"
---

# Norland Study Pass

The Norland Study Pass is the study permit of Norland. Graduates of Norland may stay on with the
Stay-On Visa for 2 years.
""",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for

    folder: Path = tmp_path_factory.mktemp("third-pass-sources")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return engine_for(load_corpus(folder))


def _audit(engine, *turns: str):
    roles = ("user", "assistant") * len(turns)
    return engine.auditor.audit_messages("t-1", list(zip(roles, turns, strict=False)))


def _errors(audit) -> list[tuple[str, list[str]]]:
    return [
        (f.claim, [c.reason or "" for c in f.checks if c.verdict.value == "contradicted"])
        for f in audit.errors
    ]


def test_clause_breaks_skip_the_comma_of_a_date() -> None:
    assert not CLAUSE_BREAK.search("is 1 April, 2027 and")
    assert CLAUSE_BREAK.search("is 1 April 2027, so you will know")
    assert CLAUSE_BREAK.search("18 months, while the other")


def test_a_qualified_form_adds_only_a_name() -> None:
    names = {"essendra", "norland"}
    assert _qualified_form(
        "office of higher learning", "office of higher learning of essendra", names.__contains__
    )
    assert _qualified_form("learner permit", "essendra learner permit", names.__contains__)
    assert not _qualified_form(
        "office of learning", "office of higher learning", names.__contains__
    )
    assert not _qualified_form("learner permit", "learner permit", names.__contains__)


def test_a_value_belongs_to_the_subject_named_before_it_not_after(engine) -> None:
    audit = _audit(
        engine,
        "Can I hold the Lumen Travel Award at Mirrow University?",
        "Yes, the Lumen Travel Award is tenable at public universities in Essendra.",
        "When will I know?",
        "The award's deadline is 1 April 2027, so you will hear back before the Harrowgate Fund "
        "closes on 30 June 2027.",
    )
    assert not audit.flagged, _errors(audit)


def test_a_wrong_value_of_the_later_subject_is_still_contradicted(engine) -> None:
    audit = _audit(
        engine,
        "Can I hold the Lumen Travel Award at Mirrow University?",
        "Yes, the Lumen Travel Award is tenable at public universities in Essendra.",
        "When will I know?",
        "The award's deadline is 1 April 2027, so you will hear back before the Harrowgate Fund "
        "closes on 30 July 2027.",
    )
    assert audit.flagged


def test_a_value_pointed_back_to_is_not_stated_again(engine) -> None:
    audit = _audit(
        engine,
        "What does a month cost?",
        "A typical single student spends ESD 640 a month on rent, food and transport. "
        "The Essendra Student Care contribution is not included in that ESD 640 figure.",
    )
    assert not [f for f in audit.errors if "that ESD 640" in f.claim], _errors(audit)


def test_a_claim_restating_both_values_of_a_span_is_not_contradicted(engine) -> None:
    audit = _audit(
        engine,
        "What does Essendra Student Care pay for specialists?",
        "With Essendra Student Care, specialist visits are covered at 70% so you pay 30%.",
    )
    assert not audit.flagged, _errors(audit)


def test_the_askers_figures_hold_for_the_whole_conversation(engine) -> None:
    audit = _audit(
        engine,
        "I have a grade point average of 3.3. Can I apply to a master's at Mirrow University?",
        "Yes: Mirrow University asks for a grade point average of at least 3.2.",
        "Could I also get the Harrowgate Fund?",
        "Not on grades: the Harrowgate Fund asks for at least 3.5. Your 3.3 meets Mirrow "
        "University's grade point average minimum but not the fund's.",
    )
    assert not audit.flagged, _errors(audit)


def test_a_body_named_without_its_qualifying_place_is_the_same_body(engine) -> None:
    audit = _audit(
        engine,
        "How do I apply to Mirrow University?",
        "Mirrow University takes applications through the Essendra Admissions Portal, run by "
        "Essendra's Office of Higher Learning.",
    )
    assert not audit.flagged, _errors(audit)


def test_each_permit_is_paired_with_the_subject_of_its_own_clause(engine) -> None:
    audit = _audit(
        engine,
        "How long can I stay after graduating?",
        "Essendra's Graduate Pass gives you 12 months, while Norland's Stay-On Visa gives you "
        "2 years.",
    )
    assert not audit.flagged, _errors(audit)


def test_excluded_nationalities_are_no_closed_list(engine) -> None:
    audit = _audit(
        engine,
        "I'm from Norland. Can I hold the Lumen Travel Award at Mirrow University?",
        "Yes: the Lumen Travel Award is for nationals of countries outside the Northern "
        "Compact, and it is tenable at public universities in Essendra.",
    )
    assert not audit.flagged, _errors(audit)


def test_a_rival_subjects_equal_value_does_not_support(engine) -> None:
    audit = _audit(
        engine,
        "I'm choosing between Tallis Institute and Mirrow University. What grades do I need "
        "for a master's at Mirrow University?",
        "Mirrow University requires a grade point average of at least 3.0 for its master's "
        "applicants.",
    )
    assert [c.expected for f in audit.errors for c in f.checks if c.expected] == ["3.2"]


def test_the_value_after_versus_is_the_other_subjects(engine) -> None:
    audit = _audit(
        engine,
        "Is Mirrow University harder to get into than the other institutes?",
        "Entry is harder at Mirrow University: a grade point average of 3.2 versus 3.0.",
    )
    assert not audit.flagged, _errors(audit)


def test_a_dash_ends_a_clause() -> None:
    assert CLAUSE_BREAK.search("at least 3.5 \u2014 higher than what Mirrow asks")


def test_a_programme_is_offered_where_the_sources_name_it(engine) -> None:
    wrong = _audit(
        engine,
        "Where can I study coastal ecology?",
        "The MSc Coastal Ecology is offered by Tallis Institute.",
    )
    assert [(f.error_class, c.kind) for f in wrong.errors for c in f.checks] == [
        ("entity", "offering")
    ]
    right = _audit(
        engine,
        "Where can I study coastal ecology?",
        "The MSc Coastal Ecology is offered by Mirrow University.",
    )
    assert not right.flagged, _errors(right)
    denied = _audit(
        engine,
        "Can I study coastal ecology at Tallis Institute?",
        "Tallis Institute does not offer the MSc Coastal Ecology.",
    )
    assert not [c for f in denied.findings for c in f.checks if c.kind == "offering"]


def test_the_act_is_read_from_its_verb_or_the_words_before_a_generic_one() -> None:
    text = "The award is administered by the Council."
    assert act_of(text, text.index("Council") - 4) == {"admin"}
    text = "Degree evaluations are handled by the Office."
    assert act_of(text, text.index("Office") - 4) == {"degre", "evalu"}
    assert act_of("Paid in two instalments", 5) == set()


def test_a_body_named_for_an_act_is_the_one_the_sources_name(engine) -> None:
    wrong = _audit(
        engine,
        "Who runs the Lumen Travel Award?",
        "The Lumen Travel Award is funded by the Lumen Trust and administered by the Northern "
        "Grants Council.",
    )
    contradicted = [(c.error_class, c.kind) for f in wrong.errors for c in f.checks]
    assert ("entity", "role") in contradicted
    right = _audit(
        engine,
        "Who runs the Lumen Travel Award?",
        "The Lumen Travel Award is funded by the Lumen Trust and administered by the Essendra "
        "Exchange Office.",
    )
    assert not right.flagged, _errors(right)


def test_an_act_without_a_subject_is_decided_by_the_one_body_the_corpus_names(engine) -> None:
    audit = _audit(
        engine,
        "My degree is from abroad. Who checks it?",
        "Degree evaluations are handled by the Essendra Exchange Office.",
    )
    assert [c.expected for f in audit.errors for c in f.checks if c.kind == "role"] == [
        "Essendra Degree Recognition Centre"
    ]


def test_a_document_is_about_the_name_its_title_starts_with(engine) -> None:
    gazetteer = engine.index.gazetteer
    assert gazetteer.is_subject("university of quarrendon")
    assert not gazetteer.is_subject("university of quarren")
