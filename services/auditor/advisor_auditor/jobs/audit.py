"""Audit jobs over the queue: plan → one task per chunk → finalize. No Celery here; the tasks
in `worker.py` call these functions.

Every effect is written under a deterministic key, write-once (docs/reliability.md, F3): a chunk
that runs twice (redelivery after a lost worker) finds its result present and does nothing; two
finalizers write the same bytes. Status lives in the job record (F14).

Keys, under `audits/<job id>/`: `plan.json`, `chunks/<part>-<index>.json`, then the outputs
`findings.jsonl`, `summary.json`, `report.md` (and `answers-*`, `clean.jsonl`,
`quarantine.jsonl`, `lineage.jsonl`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor_shared.errors import ObjectExistsError
from advisor_shared.jobs import JobRecord, JobStatus
from advisor_shared.store import ObjectStore

from ..audit_items import AuditItem, items_from_conversations, parse_answer_lines
from ..conversation_audit import ItemAudit
from ..corpus import Corpus, build_corpus, read_corpus_folder
from ..engine import engine_for
from ..errors import AuditInputError, CorpusError
from ..findings import Finding
from ..gate import apply_gate
from ..lineage import lineage_records, trace_lineage
from ..llm import llm_from_settings
from ..report import findings_jsonl, markdown_report
from ..runtime import Runtime
from ..sampling import seeded_sample
from ..summary import per_answer, summarise
from .payloads import AUDIT, JOB_KIND, AuditPlan, AuditRequest, AuditResult

INPUT_PREFIX = "audits/inputs"


def job_key(job_id: str, name: str) -> str:
    return f"audits/{job_id}/{name}"


def store_input(store: ObjectStore, text: str) -> str:
    """Store inline JSONL under its content hash (write-once, so a replay stores nothing new)."""
    data = text.encode("utf-8")
    key = f"{INPUT_PREFIX}/{hashlib.sha256(data).hexdigest()}.jsonl"
    try:
        store.put_bytes(key, data)
    except ObjectExistsError:
        pass  # the same content is already there
    return key


def _put_once(store: ObjectStore, key: str, data: bytes) -> None:
    try:
        store.put_bytes(key, data)
    except ObjectExistsError:
        pass  # written by an earlier run of the same deterministic step


def _read_text(store: ObjectStore, key: str) -> str:
    return store.get_bytes(key).decode("utf-8")


def load_corpus_for(runtime: Runtime, request: AuditRequest) -> Corpus:
    """The corpus named by the request (an object-store prefix) or the configured folder."""
    prefix = request.sources_prefix
    if prefix:
        store = runtime.store
        files = [
            (key[len(prefix) :].lstrip("/"), _read_text(store, key))
            for key in store.list(prefix.rstrip("/") + "/")
            if key.endswith((".md", ".txt", ".markdown"))
        ]
        if not files:
            raise CorpusError(f"store prefix {prefix!r}: the corpus is empty")
        return build_corpus(files)
    folder = runtime.settings.auditor_sources
    if folder is None:
        raise CorpusError(
            "no sources: the request names no sources_prefix and ADVISOR_AUDITOR_SOURCES is unset"
        )
    return build_corpus(read_corpus_folder(folder))


def _dataset_items(runtime: Runtime, key: str) -> list[AuditItem]:
    from advisor_shared.dataset import parse_lines

    conversations, problems = parse_lines(_read_text(runtime.store, key).splitlines(), "dataset")
    if problems:
        raise AuditInputError("invalid dataset lines:\n" + "\n".join(problems[:20]))
    if not conversations:
        raise AuditInputError("dataset: the dataset holds no conversations")
    return items_from_conversations(conversations)


def _answer_items(runtime: Runtime, key: str) -> list[AuditItem]:
    return parse_answer_lines(_read_text(runtime.store, key).splitlines(), "answers")


def plan_audit(runtime: Runtime, job_id: str) -> AuditPlan:
    """Choose the items and cut them into chunks; the plan is stored once and reused."""
    store = runtime.store
    key = job_key(job_id, "plan.json")
    if store.exists(key):
        return AuditPlan.model_validate_json(store.get_bytes(key))
    record = runtime.jobs.get(JOB_KIND, job_id)
    request = AUDIT.request_of(record)
    size = runtime.settings.auditor_chunk_size
    parts: dict[str, list[list[str]]] = {}
    if request.dataset_key:
        items = _dataset_items(runtime, request.dataset_key)
        chosen = seeded_sample(items, request.sample, request.seed)
        ids = [i.id for i in chosen]
        parts["data"] = [ids[i : i + size] for i in range(0, len(ids), size)]
    if request.answers_key:
        ids = [i.id for i in _answer_items(runtime, request.answers_key)]
        parts["answers"] = [ids[i : i + size] for i in range(0, len(ids), size)]
    load_corpus_for(runtime, request)  # refuse a bad corpus now, not in every chunk
    plan = AuditPlan(
        parts=parts, chunks=[(p, i) for p, chunks in parts.items() for i in range(len(chunks))]
    )
    # json.dumps, not model_dump_json: the stored bytes stay those of plans written before.
    _put_once(store, key, json.dumps(plan.model_dump(mode="json")).encode())
    runtime.jobs.update(JOB_KIND, job_id, status=JobStatus.RUNNING, attempts=record.attempts + 1)
    # Read back: a concurrent planner may have written its plan first, and that one is kept.
    return AuditPlan.model_validate_json(store.get_bytes(key))


def chunk_key(job_id: str, part: str, index: int) -> str:
    return job_key(job_id, f"chunks/{part}-{index:05d}.json")


def chunk_lease_name(job_id: str, part: str, index: int) -> str:
    """The lease a worker holds while it audits a chunk (`cancellation.settle_cancel` waits
    until none is held)."""
    return f"auditor:{job_id}:chunk:{part}-{index:05d}"


def audit_chunk(runtime: Runtime, job_id: str, part: str, index: int) -> bool:
    """Audit one chunk; return True when this call wrote the result (False: already there)."""
    store = runtime.store
    key = chunk_key(job_id, part, index)
    if store.exists(key):
        return False
    plan = plan_audit(runtime, job_id)
    request = AUDIT.request_of(runtime.jobs.get(JOB_KIND, job_id))
    wanted = plan.parts[part][index]
    source = request.dataset_key if part == "data" else request.answers_key
    if source is None:
        raise AuditInputError(f"the audit has no {part} input for chunk {part}-{index}")
    items = _dataset_items(runtime, source) if part == "data" else _answer_items(runtime, source)
    by_id = {item.id: item for item in items}
    engine = engine_for(
        load_corpus_for(runtime, request),
        runtime.settings.auditor_encoder,
        llm_from_settings(runtime.settings),
    )
    audits = engine.audit([by_id[i] for i in wanted])
    payload = [
        {
            "item_id": a.item_id,
            "topic": a.topic,
            "findings": [f.model_dump(mode="json") for f in a.findings],
        }
        for a in audits
    ]
    _put_once(store, key, json.dumps(payload).encode())
    done = sum(1 for _ in store.list(job_key(job_id, "chunks/")))
    runtime.jobs.set_stage(JOB_KIND, job_id, "audit", done, len(plan.chunks))
    return True


def all_chunks_done(runtime: Runtime, job_id: str) -> bool:
    plan = plan_audit(runtime, job_id)
    return all(runtime.store.exists(chunk_key(job_id, p, i)) for p, i in plan.chunks)


def _read_part(runtime: Runtime, job_id: str, plan: AuditPlan, part: str) -> list[ItemAudit]:
    audits: list[ItemAudit] = []
    for index in range(len(plan.parts.get(part, []))):
        for record in json.loads(runtime.store.get_bytes(chunk_key(job_id, part, index))):
            audit = ItemAudit(record["item_id"], record["topic"])
            audit.findings = [Finding.model_validate(f) for f in record["findings"]]
            audits.append(audit)
    return audits


def finalize_audit(runtime: Runtime, job_id: str) -> JobRecord:
    """Aggregate the chunks, write the outputs once, mark the job succeeded."""
    store = runtime.store
    record = runtime.jobs.get(JOB_KIND, job_id)
    if record.status.finished:
        return record
    plan = plan_audit(runtime, job_id)
    request = AUDIT.request_of(record)
    links: dict[str, str] = {}
    summaries: dict[str, Any] = {}
    data_audits = _read_part(runtime, job_id, plan, "data")
    for part, prefix, title in (
        ("data", "", "Training-data audit"),
        ("answers", "answers-", "Model-answer audit"),
    ):
        if part not in plan.parts:
            continue
        audits = data_audits if part == "data" else _read_part(runtime, job_id, plan, part)
        population = (
            len(_dataset_items(runtime, request.dataset_key))
            if part == "data" and request.dataset_key
            else None
        )
        summary = summarise(audits, population=population)
        if part == "answers":
            summary["per_answer"] = per_answer(audits)
            summary["lineage_links"] = _write_lineage(
                runtime, job_id, request, audits, data_audits, links
            )
        if part == "data" and request.gate and request.dataset_key:
            summary["gate"] = _write_gate(runtime, job_id, request.dataset_key, data_audits, links)
        outputs = {
            f"{prefix}findings.jsonl": findings_jsonl(audits),
            f"{prefix}summary.json": json.dumps(summary, indent=2) + "\n",
            f"{prefix}report.md": markdown_report(summary, audits, title=title),
        }
        for name, text in outputs.items():
            _put_once(store, job_key(job_id, name), text.encode())
            links[name] = job_key(job_id, name)
        summaries[part] = summary
    headline = summaries.get("answers") or summaries.get("data") or {}
    result = AuditResult(
        summary={"confident_errors": headline.get("confident_errors", 0), **summaries},
        links=links,
    )
    return runtime.jobs.update(
        JOB_KIND, job_id, status=JobStatus.SUCCEEDED, result=AUDIT.result_json(result), error=None
    )


def _write_gate(
    runtime: Runtime,
    job_id: str,
    dataset_key: str,
    audits: list[ItemAudit],
    links: dict[str, str],
) -> dict[str, Any]:
    from advisor_shared.dataset import parse_lines

    conversations, _ = parse_lines(_read_text(runtime.store, dataset_key).splitlines(), "dataset")
    with tempfile.TemporaryDirectory() as folder:
        result = apply_gate(conversations, audits, Path(folder))
        for path in (result.clean_path, result.quarantine_path):
            _put_once(runtime.store, job_key(job_id, path.name), path.read_bytes())
            links[path.name] = job_key(job_id, path.name)
    return {"kept": result.kept, "quarantined": result.quarantined}


def _write_lineage(
    runtime: Runtime,
    job_id: str,
    request: AuditRequest,
    answer_audits: list[ItemAudit],
    data_audits: list[ItemAudit],
    links: dict[str, str],
) -> int:
    if request.dataset_key:
        training = _dataset_items(runtime, request.dataset_key)
    elif runtime.settings.auditor_training_data is not None:
        from advisor_shared.dataset import load_dataset

        training = items_from_conversations(load_dataset(runtime.settings.auditor_training_data))
    else:
        return 0
    engine = engine_for(load_corpus_for(runtime, request), runtime.settings.auditor_encoder)
    records = lineage_records(trace_lineage(answer_audits, training, engine.index, data_audits))
    text = "".join(json.dumps(r) + "\n" for r in records)
    _put_once(runtime.store, job_key(job_id, "lineage.jsonl"), text.encode())
    links["lineage.jsonl"] = job_key(job_id, "lineage.jsonl")
    return len(records)


def fail_audit(runtime: Runtime, job_id: str, message: str) -> None:
    runtime.jobs.update(JOB_KIND, job_id, status=JobStatus.FAILED, error=message[:2000])


ChunkDispatcher = Callable[[str, str, int], None]
