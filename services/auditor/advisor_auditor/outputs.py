"""Reading a finished audit's outputs for the API: its files, its findings page by page, and the
source document a finding cites."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from advisor_shared.errors import AdvisorError
from advisor_shared.jobs import JobRecord

from .findings import Finding
from .jobs.audit import load_corpus_for
from .jobs.payloads import AUDIT, AuditRequest
from .runtime import Runtime

# Output files an audit may have, with the media type they are served as.
MEDIA_TYPES = {
    "findings.jsonl": "application/x-ndjson",
    "summary.json": "application/json",
    "report.md": "text/markdown; charset=utf-8",
    "answers-findings.jsonl": "application/x-ndjson",
    "answers-summary.json": "application/json",
    "answers-report.md": "text/markdown; charset=utf-8",
    "clean.jsonl": "application/x-ndjson",
    "quarantine.jsonl": "application/x-ndjson",
    "lineage.jsonl": "application/x-ndjson",
}
Part = Literal["data", "answers"]


class FindingPage(BaseModel):
    object: str = "list"
    data: list[Finding]
    next_cursor: str | None = None
    has_more: bool = False
    total: int = Field(description="findings matching the filters")


class SourceDocument(BaseModel):
    """A document of the audit's corpus as it is now: a finding's `evidence` span indexes
    `text` (front matter included); if `text[start:end]` is not the quote, the source changed
    since the audit."""

    path: str
    title: str
    url: str | None = None
    text: str


def file_links(job_id: str, record: JobRecord) -> dict[str, str]:
    """`name → API path` for every output file the finished audit wrote."""
    names = AUDIT.result_of(record).links
    return {name: f"/v1/audits/{job_id}/files/{name}" for name in names if name in MEDIA_TYPES}


def read_file(runtime: Runtime, record: JobRecord, name: str) -> bytes | None:
    """The bytes of an output file, None if the audit has no such file."""
    key = AUDIT.result_of(record).links.get(name)
    if name not in MEDIA_TYPES or key is None:
        return None
    try:
        return runtime.store.get_bytes(key)
    except AdvisorError:
        return None


def findings_page(
    runtime: Runtime,
    record: JobRecord,
    part: Part,
    *,
    verdict: str | None,
    items: set[str],
    limit: int,
    offset: int,
) -> FindingPage | None:
    """A page of the findings of `part` (training data or model answers), optionally only one
    verdict or some items; None when the audit has no such part."""
    raw = read_file(
        runtime, record, "findings.jsonl" if part == "data" else "answers-findings.jsonl"
    )
    if raw is None:
        return None
    findings = [
        Finding.model_validate(json.loads(line))
        for line in raw.decode().splitlines()
        if line.strip()
    ]
    kept = [
        f
        for f in findings
        if (verdict is None or f.verdict.value == verdict) and (not items or f.item_id in items)
    ]
    page = kept[offset : offset + limit]
    more = offset + limit < len(kept)
    return FindingPage(
        data=page, next_cursor=str(offset + limit) if more else None, has_more=more, total=len(kept)
    )


def source_document(runtime: Runtime, request: AuditRequest, path: str) -> SourceDocument | None:
    """The corpus document at `path` as the audit's corpus has it now; None if there is none."""
    corpus = load_corpus_for(runtime, request)
    document = next((d for d in corpus.documents if d.path == path), None)
    if document is None:
        return None
    return SourceDocument(
        path=document.path, title=document.title, url=document.url, text=document.text
    )
