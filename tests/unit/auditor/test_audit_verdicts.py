"""Verdict logic on a small corpus: values, names, premises; never contradicted without evidence."""

from __future__ import annotations

import pytest

from advisor_auditor.findings import Check, Finding, Verdict, combine

pytestmark = pytest.mark.unit


def _audit(engine, question: str, answer: str):
    return engine.auditor.audit_messages("t-1", [("user", question), ("assistant", answer)])


def _verdicts(audit) -> dict[str, tuple[str, str | None]]:
    return {f.claim: (f.verdict.value, f.error_class) for f in audit.findings}


def test_values_in_other_wordings_are_supported(engine) -> None:
    audit = _audit(
        engine,
        "What does Norvania's student visa cost?",
        "## Norvania visa\n\n- The visa application fee is 180 euros.\n"
        "- Visa processing usually takes 6 weeks.\n- Students may work 20 hours a week.",
    )
    assert {v for v, _ in _verdicts(audit).values()} == {"supported"}
    assert not audit.flagged


def test_wrong_number_and_date_are_contradicted_with_cited_span(engine) -> None:
    audit = _audit(
        engine,
        "What are the Master deadline and tuition at University of Eastmarch?",
        "## University of Eastmarch\n\n- The Master deadline at University of Eastmarch is 2026-03-25.\n"
        "- Tuition for international students is €9,900 per year.",
    )
    verdicts = _verdicts(audit)
    assert verdicts["The Master deadline at University of Eastmarch is 2026-03-25."] == (
        "contradicted",
        "date",
    )
    assert verdicts["Tuition for international students is €9,900 per year."] == (
        "contradicted",
        "number",
    )
    for finding in audit.errors:
        evidence = finding.evidence[0]
        assert evidence.doc_path == "university-of-eastmarch.md" and evidence.end > evidence.start
        assert finding.confident_error  # no hedge in the answer


def test_hedged_error_is_an_error_but_not_a_confident_one(engine) -> None:
    audit = _audit(
        engine,
        "Tuition at University of Eastmarch?",
        "Tuition at University of Eastmarch is EUR 9,900 per year. As far as I know this is current.",
    )
    assert audit.flagged and not audit.confident_errors


def test_fabricated_program_and_swapped_entity(engine) -> None:
    audit = _audit(
        engine,
        "Which health cover do I need in Norvania?",
        "## Health insurance in Norvania\n\n- You can also join the Brightwater Student Shield Plan.",
    )
    assert list(_verdicts(audit).values()) == [("contradicted", "fabricated_program")]


def test_accepted_false_premise(engine) -> None:
    audit = _audit(
        engine,
        "I'd like to apply for the Master in Veterinary Medicine at University of Eastmarch. What do I need?",
        "The Master in Veterinary Medicine at University of Eastmarch is open to international applicants.",
    )
    assert [(f.error_class, f.evidence[0].doc_path) for f in audit.errors] == [
        ("false_premise", "university-of-eastmarch.md")
    ]
    rejected = _audit(
        engine,
        "I'd like to apply for the Master in Veterinary Medicine at University of Eastmarch.",
        "University of Eastmarch does not offer a Master in Veterinary Medicine.",
    )
    assert not rejected.flagged


def test_eligibility_of_an_excluded_nationality(engine) -> None:
    audit = _audit(
        engine,
        "Since people from Norvania qualify for the Veyra Merit Award, how much is it?",
        "Applicants from Norvania are eligible for the Veyra Merit Award, so you can go ahead.",
    )
    assert [f.error_class for f in audit.errors] == ["false_premise"]


def test_claims_about_nothing_in_the_corpus_are_unverifiable_not_contradicted(engine) -> None:
    audit = _audit(
        engine, "What about Zanzibar?", "The ferry to Zanzibar costs USD 35 and leaves at 9."
    )
    assert audit.findings and all(f.verdict is Verdict.UNVERIFIABLE for f in audit.findings)


def test_no_evidence_means_never_contradicted() -> None:
    with pytest.raises(ValueError, match="must cite evidence"):
        Check(kind="value", verdict=Verdict.CONTRADICTED, claimed="EUR 5")
    with pytest.raises(ValueError, match="must cite evidence"):
        Finding(
            item_id="x",
            turn=1,
            claim_id="x:1:0",
            claim="c",
            start=0,
            end=1,
            verdict=Verdict.CONTRADICTED,
        )
    unverifiable = Check(kind="value", verdict=Verdict.UNVERIFIABLE, claimed="EUR 5")
    assert combine([unverifiable]) == (Verdict.UNVERIFIABLE, unverifiable)
