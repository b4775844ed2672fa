"""Claim extraction, hedge detection and the summary's rates on fixed inputs."""

from __future__ import annotations

import pytest

from advisor_auditor.claims import extract_claims
from advisor_auditor.conversation_audit import ItemAudit
from advisor_auditor.corpus import build_corpus
from advisor_auditor.entities import Gazetteer
from advisor_auditor.findings import Evidence, Finding, Verdict
from advisor_auditor.hedges import find_hedges, is_hedged
from advisor_auditor.stats import rate_with_interval
from advisor_auditor.summary import answer_counts, per_answer

pytestmark = pytest.mark.unit

ANSWER = """## Money matters for University of Eastmarch

These are the figures to plan with.

* **Application fee:** EUR 100, non-refundable.
* The Veyra Merit Award closes on 27 Feb 2026. It is worth €6,000 per year.
* You can also apply for the Corvin Excellence Stipend.

**Action steps:**
1. Build a monthly budget that includes rent and food.
"""


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    text = "---\ntitle: Veyra Merit Award\n---\n\nThe Veyra Merit Award is worth EUR 6,000.\n\nUniversity of Eastmarch is in Norvania.\n"
    return Gazetteer(build_corpus([("veyra.md", text)]))


def test_claims_are_atomic_check_worthy_and_located(gazetteer: Gazetteer) -> None:
    claims = extract_claims(ANSWER, gazetteer, turn=1, id_prefix="c1")
    assert [c.text for c in claims] == [
        "Application fee: EUR 100, non-refundable.",
        "The Veyra Merit Award closes on 27 Feb 2026.",
        "It is worth €6,000 per year.",
        "You can also apply for the Corvin Excellence Stipend.",
    ]
    assert all(c.heading for c in claims)
    assert claims[0].heading == "Money matters for University of Eastmarch"
    assert ANSWER[claims[1].start : claims[1].end] == "The Veyra Merit Award closes on 27 Feb 2026."
    assert [v.kind for v in claims[1].values] == ["date"]
    fabricated = [m for m in claims[3].mentions if not m.known]
    assert [m.text for m in fabricated] == ["Corvin Excellence Stipend"]
    assert claims[1].mentions[0].known and claims[1].mentions[0].kind == "scholarship"


@pytest.mark.parametrize(
    "text",
    [
        "Check the official page before you apply, as fees change yearly.",
        "As far as I know, these figures are current.",
        "Rules like these can change, so double-check with the embassy.",
        "I may not have the very latest numbers.",
        "Please confirm the details with the admissions office.",
        "I'm not entirely sure about this.",
    ],
)
def test_hedges_are_found_by_wording(text: str) -> None:
    assert is_hedged(text)


@pytest.mark.parametrize(
    "text",
    [
        "The application fee is EUR 100.",
        "Book the visa appointment early.",
        "Read the full eligibility rules of the award.",
    ],
)
def test_plain_statements_and_advice_are_not_hedges(text: str) -> None:
    assert find_hedges(text) == []


def test_rates_carry_the_shared_wilson_interval() -> None:
    # The paper's hard count: 11/40 = 27.5% with Wilson [16%, 43%] (docs/paper.md §4.4).
    assert rate_with_interval(11, 40) == {
        "count": 11,
        "n": 40,
        "rate": 0.275,
        "wilson_ci": [0.1611, 0.4283],
    }
    # No items: no rate, and an interval that rules nothing out (advisor_shared.statistics).
    assert rate_with_interval(0, 0) == {"count": 0, "n": 0, "rate": None, "wilson_ci": [0.0, 1.0]}
    with pytest.raises(ValueError):
        rate_with_interval(5, 3)


def _finding(claim: str, verdict: str, hedged: bool = False) -> Finding:
    evidence = [Evidence(doc_path="visa-norvania.md", start=0, end=10, quote="EUR 180")]
    contradicted = verdict == "contradicted"
    return Finding(
        item_id="a1",
        turn=1,
        claim_id=claim[:8],
        claim=claim,
        start=0,
        end=len(claim),
        verdict=Verdict(verdict),
        hedged=hedged,
        confident_error=contradicted and not hedged,
        evidence=evidence if contradicted else [],
    )


def test_an_answer_that_repeats_a_claim_counts_it_once() -> None:
    """A looping answer states the same wrong fee three times: one contradicted claim."""
    audit = ItemAudit("a1", "visa")
    audit.findings = [
        _finding("The visa fee is EUR 250.", "contradicted"),
        _finding("The visa fee is  EUR 250.", "contradicted"),
        _finding("the visa fee is EUR 250.", "contradicted"),
        _finding("Processing takes 6 weeks.", "supported"),
        _finding("Bring your passport.", "unverifiable"),
    ]
    assert answer_counts(audit) == {
        "claims": 3,
        "supported": 1,
        "contradicted": 1,
        "unverifiable": 1,
        "confident_errors": 1,
    }
    assert per_answer([audit]) == {"a1": answer_counts(audit)}
