"""Bad input gets clear errors naming the file; the CLI writes findings, summary, report, gate
and lineage; samples are seeded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor_auditor.audit_items import load_answer_items
from advisor_auditor.cli import run_audit
from advisor_auditor.corpus import load_corpus
from advisor_auditor.errors import AuditInputError, CorpusError
from advisor_auditor.sampling import seeded_sample
from advisor_shared.cli import build_app
from advisor_shared.errors import AdvisorError

pytestmark = pytest.mark.unit

CLEAN = {
    "id": "ok-1",
    "topic": "visa",
    "messages": [
        {"role": "user", "content": "What does the Norvania visa cost?"},
        {"role": "assistant", "content": "The visa application fee is EUR 180."},
    ],
}
WRONG = {
    "id": "bad-1",
    "topic": "costs",
    "messages": [
        {"role": "user", "content": "Tuition at University of Eastmarch?"},
        {
            "role": "assistant",
            "content": "Tuition at University of Eastmarch is EUR 9,900 per year.",
        },
    ],
}


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_empty_corpus_is_refused_naming_the_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match=f"{tmp_path}: the corpus is empty"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_unreadable_document_is_named(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\nThe fee is EUR 5.\n")
    (tmp_path / "broken.md").write_bytes(b"# Broken\n\n\xff\xfe not utf-8")
    with pytest.raises(CorpusError, match=r"broken\.md: not UTF-8 text"):
        load_corpus(tmp_path)


def test_document_without_text_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("---\ntitle: Empty\n---\n\n")
    with pytest.raises(CorpusError, match=r"empty\.md: the document has no text"):
        load_corpus(tmp_path)


def test_dataset_lines_without_assistant_text_are_named(tmp_path: Path, corpus_dir: Path) -> None:
    data = _jsonl(
        tmp_path / "data.jsonl",
        [
            CLEAN,
            {
                "id": "q-only",
                "messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "?"}],
            },
            {
                "id": "empty",
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": ""},
                ],
            },
        ],
    )
    with pytest.raises(AdvisorError) as caught:
        run_audit(data=data, sources=corpus_dir, out=tmp_path / "out")
    message = str(caught.value)
    assert f"{data}:2:" in message and f"{data}:3:" in message


def test_bad_answers_file_lines_are_named(tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        '{"id": "a", "prompt": "p", "answer": "x"}\nnot json\n{"id": "b", "prompt": "p"}\n'
    )
    with pytest.raises(AuditInputError) as caught:
        load_answer_items(answers)
    assert "answers.jsonl:2: not valid JSON" in str(caught.value)
    assert "answers.jsonl:3: answer: Field required" in str(caught.value)


def test_seeded_sample_is_reproducible() -> None:
    items = list(range(100))
    first = seeded_sample(items, 10, seed=7)
    assert first == seeded_sample(items, 10, seed=7) and len(first) == 10
    assert first != seeded_sample(items, 10, seed=8)
    assert seeded_sample(items, None, 1) == items


def test_cli_gate_writes_clean_data_quarantine_and_reports(
    tmp_path: Path, corpus_dir: Path
) -> None:
    data = _jsonl(tmp_path / "train.jsonl", [CLEAN, WRONG])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        build_app(),
        ["audit", "--data", str(data), "--sources", str(corpus_dir), "--out", str(out), "--gate"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["error_rate"]["count"] == 1 and summary["gate"] == {
        "kept": 1,
        "quarantined": 1,
        "clean": "clean.jsonl",
        "quarantine": "quarantine.jsonl",
    }
    assert [json.loads(line)["id"] for line in (out / "clean.jsonl").read_text().splitlines()] == [
        "ok-1"
    ]
    quarantined = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    assert quarantined[0]["id"] == "bad-1"
    assert quarantined[0]["errors"][0]["evidence"][0]["doc_path"] == "university-of-eastmarch.md"
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()]
    assert {f["verdict"] for f in findings} == {"supported", "contradicted"}
    assert "# Training-data audit" in (out / "report.md").read_text()


def test_answers_audit_traces_errors_to_training_examples(tmp_path: Path, corpus_dir: Path) -> None:
    data = _jsonl(tmp_path / "train.jsonl", [CLEAN, WRONG])
    answers = _jsonl(
        tmp_path / "answers.jsonl",
        [
            {
                "id": "p1",
                "prompt": "How much is tuition at University of Eastmarch?",
                "answer": "Tuition at University of Eastmarch is EUR 9,900 per year.",
                "model": "lora",
            }
        ],
    )
    results = run_audit(data=data, sources=corpus_dir, out=tmp_path / "out", answers=answers)
    assert results["answers"]["confident_errors"] == 1
    # each answer's claims by verdict: what an evaluator compares answer by answer
    assert results["answers"]["per_answer"] == {
        "lora/p1": {
            "claims": 1,
            "supported": 0,
            "contradicted": 1,
            "unverifiable": 0,
            "confident_errors": 1,
        }
    }
    links = [
        json.loads(line) for line in (tmp_path / "out" / "lineage.jsonl").read_text().splitlines()
    ]
    assert links[0]["training_id"] == "bad-1" and links[0]["relation"] == "same_error"
    assert links[0]["training_claim_contradicted"] is True


def test_gate_refuses_a_sample(tmp_path: Path, corpus_dir: Path) -> None:
    data = _jsonl(tmp_path / "train.jsonl", [CLEAN])
    with pytest.raises(AuditInputError, match="drop --sample"):
        run_audit(data=data, sources=corpus_dir, out=tmp_path / "o", gate=True, sample=1)
