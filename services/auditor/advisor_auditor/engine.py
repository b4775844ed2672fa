"""The audit engine: a corpus index and the conversation auditor, built once per corpus and
reused (embedding the corpus is the expensive part; a worker keeps one per corpus content)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .audit_items import AuditItem
from .conversation_audit import ConversationAuditor, ItemAudit
from .corpus import Corpus
from .encoder import SentenceEncoder
from .llm import LlmVerifier
from .retrieval import EvidenceIndex

BATCH_ITEMS = 16  # conversations whose claims are embedded together (progress moves per batch)
_ENGINES: dict[tuple[str, str], AuditEngine] = {}
_LOCK = threading.Lock()


@dataclass
class AuditEngine:
    corpus: Corpus
    index: EvidenceIndex
    auditor: ConversationAuditor
    claims_checked: int = 0
    seconds: float = field(default=0.0)

    def audit(
        self, items: list[AuditItem], on_item: Callable[[ItemAudit], None] | None = None
    ) -> list[ItemAudit]:
        """Audit `items` in order; `on_item` is called after each (progress)."""
        audits = []
        started = time.perf_counter()
        for first in range(0, len(items), BATCH_ITEMS):
            batch = items[first : first + BATCH_ITEMS]
            for audit in self.auditor.audit_batch(
                [(item.id, item.messages, item.topic, item.model) for item in batch]
            ):
                self.claims_checked += len(audit.findings)
                audits.append(audit)
                if on_item is not None:
                    on_item(audit)
        self.seconds += time.perf_counter() - started
        return audits


def engine_for(
    corpus: Corpus, encoder_spec: str = "all-minilm-l6-v2", llm: LlmVerifier | None = None
) -> AuditEngine:
    """The engine for this corpus content, built on first use and cached in the process."""
    key = (corpus.fingerprint, encoder_spec)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            index = EvidenceIndex(corpus, SentenceEncoder(encoder_spec))
            engine = AuditEngine(corpus, index, ConversationAuditor(index))
            _ENGINES[key] = engine
    engine.auditor.llm = llm
    return engine
