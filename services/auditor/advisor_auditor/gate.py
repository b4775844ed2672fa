"""The gate before training: a clean dataset, and a quarantine file of what was removed and why.

Any contradicted claim quarantines its conversation, hedged or not: a hedged wrong figure is
still a wrong figure to learn from. The clean file is a plain dataset the trainer consumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from advisor_shared.dataset import Conversation, write_dataset

from .conversation_audit import ItemAudit


@dataclass(frozen=True)
class GateResult:
    clean_path: Path
    quarantine_path: Path
    kept: int
    quarantined: int


def apply_gate(
    conversations: list[Conversation], audits: list[ItemAudit], out_dir: Path
) -> GateResult:
    """Write `clean.jsonl` (unflagged conversations) and `quarantine.jsonl` (flagged ones with
    the findings that flagged them)."""
    by_id = {audit.item_id: audit for audit in audits}
    missing = [c.id for c in conversations if c.id not in by_id]
    if missing:
        raise ValueError(f"the gate needs every conversation audited; {len(missing)} were not")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean = [c for c in conversations if not by_id[c.id].flagged]
    flagged = [c for c in conversations if by_id[c.id].flagged]
    clean_path = out_dir / "clean.jsonl"
    quarantine_path = out_dir / "quarantine.jsonl"
    write_dataset(clean, clean_path)
    with open(quarantine_path, "w", encoding="utf-8") as handle:
        for conversation in flagged:
            record = {
                "id": conversation.id,
                "conversation": conversation.model_dump(exclude_none=True),
                "errors": [f.model_dump(mode="json") for f in by_id[conversation.id].errors],
            }
            handle.write(json.dumps(record) + "\n")
    return GateResult(clean_path, quarantine_path, len(clean), len(flagged))
