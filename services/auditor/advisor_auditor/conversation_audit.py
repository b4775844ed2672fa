"""Audit one conversation (or one model answer): claims of every assistant turn, verified
against the corpus, with hedges and accepted false premises marked.

A question's own statements ("Since people from Solmere qualify for the Kestrel grant, ...") are
checked too, as premises. They are never errors of the answer; but an answer claim contradicted
on the same point as a contradicted premise is an *accepted false premise*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .check_context import ClaimContext
from .claims import Claim, extract_claims
from .corpus import strip_markdown
from .entities import Mention
from .findings import Check, Finding, Verdict, combine
from .hedges import is_hedged
from .llm import LlmVerifier
from .premises import answer_sentence_building_on, sentences
from .retrieval import EvidenceIndex
from .values import Value
from .verify import ClaimVerifier


@dataclass
class ItemAudit:
    """Findings for one dataset item or model answer, and whether it carries an error."""

    item_id: str
    topic: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict is Verdict.CONTRADICTED]

    @property
    def flagged(self) -> bool:
        return bool(self.errors)

    @property
    def confident_errors(self) -> list[Finding]:
        return [f for f in self.errors if f.confident_error]


def _needs_vector(claim: Claim) -> bool:
    return bool(claim.values or claim.mentions)


def _names(mentions: list[Mention]) -> set[str]:
    return {m.name for m in mentions if m.known}


_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|I'll|my|me|mine)\b|\bI['\u2019]", re.IGNORECASE)


def first_person_values(claim: Claim) -> list[Value]:
    """Figures the asker states about themselves (a grade, an age, a sum): in a clause with
    I / my / me. Timing ("as soon as I land") is a premise about the rules, not a fact about
    the person, and stays checked."""
    found = []
    for value in claim.values:
        if value.kind not in ("score", "percent", "money"):
            continue
        starts = [m.end() for m in re.finditer(r"[.;!?,](?!\d)|\band\b|\bbut\b", claim.text)]
        left = max([s for s in starts if s <= value.start] + [0])
        ends = [m.start() for m in re.finditer(r"[.;!?,](?!\d)|\band\b|\bbut\b", claim.text)]
        right = min([e for e in ends if e >= value.end] + [len(claim.text)])
        if _FIRST_PERSON.search(claim.text[left:right]):
            found.append(value)
    return found


class ConversationAuditor:
    """Turns messages into findings; holds the corpus index and the optional LLM verifier."""

    def __init__(self, index: EvidenceIndex, llm: LlmVerifier | None = None):
        self.index = index
        self.verifier = ClaimVerifier(index)
        self.llm = llm
        self._vectors: dict[str, Any] = {}

    def _mentions(self, text: str) -> list[Mention]:
        return self.index.gazetteer.mentions(strip_markdown(text))

    def audit_messages(
        self,
        item_id: str,
        messages: list[tuple[str, str]],
        *,
        topic: str | None = None,
        model: str | None = None,
    ) -> ItemAudit:
        """Audit every assistant turn of `messages` ((role, content) pairs)."""
        audit = ItemAudit(item_id=item_id, topic=topic)
        earlier: list[Mention] = []
        # The asker's own figures hold for the whole conversation: "I have a GPA of 3.3" in the
        # first question is still the asker's in "your 3.3 is not enough" two turns later.
        personal: list[Value] = []
        question, question_turn = "", -1
        for turn, (role, content) in enumerate(messages):
            if role == "user":
                question, question_turn = content, turn
                personal.extend(
                    v
                    for c in self._claims(content, turn, item_id, "premise")
                    for v in first_person_values(c)
                )
            if role != "assistant":
                earlier.extend(self._mentions(content))
                continue
            audit.findings.extend(
                self._audit_answer(
                    item_id,
                    turn,
                    content,
                    question,
                    question_turn,
                    earlier,
                    personal,
                    topic=topic,
                    model=model,
                )
            )
            earlier.extend(self._mentions(content))
        return audit

    def audit_batch(
        self, items: list[tuple[str, list[tuple[str, str]], str | None, str | None]]
    ) -> list[ItemAudit]:
        """Audit several (id, messages, topic, model) items, embedding all their claims in one
        pass first: one large batch costs far less than many small ones on a CPU."""
        texts: list[str] = []
        for item_id, messages, _, _ in items:
            for turn, (role, content) in enumerate(messages):
                if role != "system":
                    texts.extend(
                        c.text
                        for c in self._claims(content, turn, item_id, role)
                        if _needs_vector(c)
                    )
        unique = list(dict.fromkeys(texts))
        self._vectors = dict(zip(unique, self.index.embed(unique), strict=True)) if unique else {}
        try:
            return [
                self.audit_messages(item_id, messages, topic=topic, model=model)
                for item_id, messages, topic, model in items
            ]
        finally:
            self._vectors = {}

    def _embed(self, texts: list[str]) -> list[Any]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        fresh = dict(zip(missing, self.index.embed(missing), strict=True)) if missing else {}
        return [self._vectors.get(t, fresh.get(t)) for t in texts]

    def _verify_all(self, claims: list[Claim], contexts: list[ClaimContext]) -> list[list[Check]]:
        if not claims:
            return []
        wanted = [c.text for c in claims if _needs_vector(c)]
        found = dict(zip(wanted, self._embed(wanted), strict=True))
        # Rule-only claims (no value, no name) never compare meanings: no vector needed.
        blank = np.zeros(self.index.vectors.shape[1], dtype=np.float32)
        vectors = [found.get(c.text, blank) for c in claims]
        results = []
        for claim, context, vector in zip(claims, contexts, vectors, strict=True):
            checks = self.verifier.verify(claim, context, vector)
            if self.llm is not None and all(c.verdict is Verdict.UNVERIFIABLE for c in checks):
                llm_check = self.llm.verify(claim.text, self.index.search(claim.text, k=3))
                if llm_check is not None:
                    checks.append(llm_check)
            results.append(checks)
        return results

    def _audit_answer(
        self,
        item_id: str,
        turn: int,
        content: str,
        question: str,
        question_turn: int,
        earlier: list[Mention],
        personal: list[Value],
        *,
        topic: str | None,
        model: str | None,
    ) -> list[Finding]:
        gazetteer = self.index.gazetteer
        answer_claims = self._claims(content, turn, item_id, "answer")
        premise_claims = (
            self._claims(question, question_turn, item_id, "premise") if question else []
        )
        question_mentions = self._mentions(question) if question else []
        answer_mentions = [m for c in answer_claims for m in c.mentions] + [
            m for c in answer_claims for m in gazetteer.mentions(c.heading)
        ]
        contexts = [
            ClaimContext(
                heading=gazetteer.mentions(c.heading),
                question=question_mentions if c.role == "answer" else [],
                answer=answer_mentions if c.role == "answer" else [],
                earlier=earlier,
                personal=personal,
            )
            for c in answer_claims + premise_claims
        ]
        all_checks = self._verify_all(answer_claims + premise_claims, contexts)
        premise_errors: list[tuple[Claim, Check]] = []
        for claim, checks in zip(premise_claims, all_checks[len(answer_claims) :], strict=True):
            premise_errors.extend((claim, c) for c in checks if c.verdict is Verdict.CONTRADICTED)
        hedged = is_hedged(content)
        findings: list[Finding] = []
        for claim, checks in zip(answer_claims, all_checks[: len(answer_claims)], strict=True):
            if not checks:
                continue
            verdict, deciding = combine(checks)
            assert deciding is not None
            error_class = deciding.error_class if verdict is Verdict.CONTRADICTED else None
            if verdict is Verdict.CONTRADICTED and self._accepts_premise(
                claim, deciding, premise_errors
            ):
                error_class = "false_premise"
            findings.append(
                Finding(
                    item_id=item_id,
                    turn=turn,
                    claim_id=claim.id,
                    claim=claim.text,
                    start=claim.start,
                    end=claim.end,
                    verdict=verdict,
                    error_class=error_class,
                    hedged=hedged,
                    confident_error=verdict is Verdict.CONTRADICTED and not hedged,
                    confidence=deciding.confidence,
                    evidence=deciding.evidence,
                    checks=checks,
                    topic=topic,
                    model=model,
                )
            )
        accepted = self._accepted_premises(item_id, turn, content, premise_errors, findings)
        for finding in accepted:
            finding.hedged = hedged
            finding.confident_error = not hedged
            finding.topic, finding.model = topic, model
        return sorted(findings + accepted, key=lambda f: f.start)

    @staticmethod
    def _accepted_premises(
        item_id: str,
        turn: int,
        content: str,
        premise_errors: list[tuple[Claim, Check]],
        findings: list[Finding],
    ) -> list[Finding]:
        """A premise the sources deny, which the answer goes along with without restating
        anything checkable ("Yes, that will be fine."): the sentence that accepts it is an
        accepted false premise. An answer that pushes back is not flagged."""
        if any(f.error_class == "false_premise" for f in findings):
            return []
        for _, check in premise_errors:
            if check.kind != "premise":
                continue
            chosen = answer_sentence_building_on(sentences(content), check.claimed)
            if chosen is None:
                continue
            start, end, text = chosen
            accepting = check.model_copy(
                update={"claimed": text, "reason": f"the answer accepts it: {check.reason}"}
            )
            for finding in findings:
                if finding.start <= start < finding.end or start <= finding.start < end:
                    finding.verdict = Verdict.CONTRADICTED
                    finding.error_class = "false_premise"
                    finding.checks.append(accepting)
                    finding.evidence = accepting.evidence
                    finding.confidence = accepting.confidence
                    finding.confident_error = not finding.hedged
                    return []
            return [
                Finding(
                    item_id=item_id,
                    turn=turn,
                    claim_id=f"{item_id}:{turn}:premise",
                    claim=text,
                    start=start,
                    end=end,
                    verdict=Verdict.CONTRADICTED,
                    error_class="false_premise",
                    confidence=accepting.confidence,
                    evidence=accepting.evidence,
                    checks=[accepting],
                )
            ]
        return []

    def _claims(self, content: str, turn: int, item_id: str, role: str) -> list[Claim]:
        return extract_claims(
            content,
            self.index.gazetteer,
            turn=turn,
            id_prefix=item_id,
            role=role,
            currencies=self.index.currencies,
        )

    @staticmethod
    def _accepts_premise(
        claim: Claim, deciding: Check, premise_errors: list[tuple[Claim, Check]]
    ) -> bool:
        """The answer is contradicted on the same kind of point, about the same named thing,
        as a statement the question presupposed."""
        names = _names(claim.mentions)
        for premise, check in premise_errors:
            same_kind = check.kind == deciding.kind or {check.kind, deciding.kind} <= {
                "value",
                "availability",
                "eligibility",
            }
            if same_kind and (
                names & _names(premise.mentions)
                or check.claimed.lower() == deciding.claimed.lower()
            ):
                return True
        return False
