"""`advisor audit`: audit a dataset (whole or a seeded sample) and/or model answers against a
source corpus; `--gate` writes a clean dataset and a quarantine file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from advisor_shared.cli_output import fail
from advisor_shared.dataset import load_dataset
from advisor_shared.errors import AdvisorError
from advisor_shared.models import encoder_path

from .audit_items import AuditItem, items_from_conversations, load_answer_items
from .conversation_audit import ItemAudit
from .core.config import Settings
from .corpus import load_corpus
from .engine import AuditEngine, engine_for
from .errors import AuditInputError
from .gate import apply_gate
from .lineage import lineage_records, trace_lineage
from .llm import llm_from_settings
from .report import write_outputs
from .sampling import seeded_sample
from .summary import per_answer, summarise

console = Console(stderr=True)


def _audit_with_progress(
    engine: AuditEngine, items: list[AuditItem], label: str
) -> list[ItemAudit]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=len(items))
        return engine.audit(items, on_item=lambda _: progress.advance(task))


def run_audit(
    *,
    data: Path | None,
    sources: Path,
    out: Path,
    sample: int | None = None,
    seed: int = 0,
    gate: bool = False,
    answers: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Everything `advisor audit` does, returning the summaries (for callers and tests)."""
    if data is None and answers is None:
        raise AuditInputError("nothing to audit: give --data, --answers, or both")
    if gate and data is None:
        raise AuditInputError("--gate needs --data (it writes a clean copy of that dataset)")
    if gate and sample is not None:
        raise AuditInputError("--gate audits the whole dataset; drop --sample to gate")
    settings = settings or Settings()
    encoder_path(settings.auditor_encoder)  # an encoder that cannot be had fails now, in seconds
    conversations = load_dataset(data) if data is not None else []
    if data is not None:
        for conversation in conversations:
            if not any(m.role == "assistant" and m.content.strip() for m in conversation.messages):
                raise AuditInputError(f"{data}: {conversation.id!r} has no assistant text")
    answer_items = load_answer_items(answers) if answers is not None else []
    with console.status("indexing the source corpus …"):
        engine = engine_for(
            load_corpus(sources), settings.auditor_encoder, llm_from_settings(settings)
        )
    out = Path(out)
    results: dict[str, Any] = {}
    data_audits: list[ItemAudit] = []
    training_items = items_from_conversations(conversations)
    if conversations:
        chosen = seeded_sample(training_items, sample, seed)
        started, claims_before = time.perf_counter(), engine.claims_checked
        data_audits = _audit_with_progress(engine, chosen, "auditing training data")
        summary = summarise(data_audits, population=len(training_items))
        summary |= _run_facts(engine, started, claims_before, sample, seed, data, sources)
        write_outputs(out, data_audits, summary, title="Training-data audit", prefix="")
        if gate:
            result = apply_gate(conversations, data_audits, out)
            summary["gate"] = {
                "kept": result.kept,
                "quarantined": result.quarantined,
                "clean": result.clean_path.name,
                "quarantine": result.quarantine_path.name,
            }
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        results["data"] = summary
    if answer_items:
        started, claims_before = time.perf_counter(), engine.claims_checked
        answer_audits = _audit_with_progress(engine, answer_items, "auditing model answers")
        summary = summarise(answer_audits) | {"per_answer": per_answer(answer_audits)}
        summary |= _run_facts(engine, started, claims_before, None, seed, answers, sources)
        if training_items:
            links = trace_lineage(answer_audits, training_items, engine.index, data_audits)
            with open(out / "lineage.jsonl", "w", encoding="utf-8") as handle:
                for record in lineage_records(links):
                    handle.write(json.dumps(record) + "\n")
            summary["lineage_links"] = len(links)
        write_outputs(out, answer_audits, summary, title="Model-answer audit", prefix="answers-")
        results["answers"] = summary
    return results


def _run_facts(
    engine: AuditEngine,
    started: float,
    claims_before: int,
    sample: int | None,
    seed: int,
    source_file: Path | None,
    sources: Path,
) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    claims = engine.claims_checked - claims_before
    return {
        "sample": sample,
        "seed": seed,
        "input": Path(source_file).name if source_file else None,
        "corpus": {
            "documents": len(engine.corpus.documents),
            "spans": len(engine.corpus.spans),
            "fingerprint": engine.corpus.fingerprint,
        },
        "seconds": round(seconds, 2),
        "claims_per_second": round(claims / seconds, 1) if seconds > 0 else None,
        "verifier": "deterministic" + ("+llm" if engine.auditor.llm is not None else ""),
    }


def audit(
    data: Path | None = typer.Option(
        None, "--data", help="Dataset JSONL (docs/design.md#dataset, or ShareGPT)."
    ),
    sources: Path = typer.Option(..., "--sources", help="Folder of .md/.txt source documents."),
    out: Path = typer.Option(..., "--out", help="Output folder (findings, summary, report)."),
    sample: int | None = typer.Option(
        None, "--sample", min=1, help="Audit a seeded random sample of N conversations."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
    gate: bool = typer.Option(False, "--gate", help="Write clean.jsonl and quarantine.jsonl."),
    answers: Path | None = typer.Option(
        None, "--answers", help="Model answers JSONL: {id, prompt, answer, model}."
    ),
) -> None:
    """Verify the claims of training data and/or model answers against a source corpus."""
    try:
        results = run_audit(
            data=data,
            sources=sources,
            out=out,
            sample=sample,
            seed=seed,
            gate=gate,
            answers=answers,
        )
    except AdvisorError as exc:
        fail(f"audit refused: {exc}")
    for part, summary in results.items():
        rate = summary["error_rate"]
        console.print(
            f"{part}: {rate['count']}/{rate['n']} items with a contradicted claim "
            f"(95% CI {rate['wilson_ci'][0]:.3f}–{rate['wilson_ci'][1]:.3f}); "
            f"{summary['claims']} claims at {summary['claims_per_second']} claims/s"
        )
    if "data" in results and "gate" in results["data"]:
        g = results["data"]["gate"]
        console.print(f"gate: kept {g['kept']}, quarantined {g['quarantined']} → {out}")
    console.print(f"outputs in {out}")
