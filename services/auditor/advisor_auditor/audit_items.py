"""What an audit reads: dataset conversations and model answers, as audit items.

Answers come as JSONL `{"id", "prompt", "answer", "model"}`. Bad lines are refused with
`file:line: reason`, like the dataset loader does (nothing is silently dropped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor_shared.dataset import Conversation, load_dataset
from advisor_shared.errors import DatasetError

from .errors import AuditInputError


@dataclass(frozen=True)
class AuditItem:
    """One thing to audit: its messages as (role, content) pairs."""

    id: str
    messages: list[tuple[str, str]]
    topic: str | None = None
    model: str | None = None


class ModelAnswer(BaseModel):
    """One line of an answers file."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    model: str | None = None
    topic: str | None = None


def items_from_conversations(conversations: list[Conversation]) -> list[AuditItem]:
    return [
        AuditItem(
            id=c.id,
            messages=[(m.role, m.content) for m in c.messages],
            topic=c.topic,
        )
        for c in conversations
    ]


def load_dataset_items(path: Path) -> list[AuditItem]:
    """Dataset conversations as audit items; every bad line is named (file:line: reason)."""
    try:
        conversations = load_dataset(Path(path))
    except DatasetError as exc:
        raise AuditInputError(str(exc)) from None
    for conversation in conversations:
        if not any(m.role == "assistant" and m.content.strip() for m in conversation.messages):
            raise AuditInputError(f"{path}: conversation {conversation.id!r} has no assistant text")
    return items_from_conversations(conversations)


def parse_answer_lines(lines: list[str], source: str) -> list[AuditItem]:
    """Answer lines as audit items: `{id, prompt, answer, model}` or, as the evaluator sends
    them, single-turn conversations in the dataset contract."""
    answers: list[AuditItem] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if isinstance(record, dict) and "messages" in record:
                conversation = Conversation.model_validate(record)
                answers.extend(items_from_conversations([conversation]))
            else:
                answers.extend(answers_to_items([ModelAnswer.model_validate(record)]))
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{number}: not valid JSON ({exc.msg})")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            problems.append(f"{source}:{number}: {where}: {first['msg']}")
    if problems:
        raise AuditInputError(
            f"{len(problems)} invalid answer line(s):\n" + "\n".join(problems[:20])
        )
    if not answers:
        raise AuditInputError(f"{source}: the answers file holds no answers")
    return answers


def load_answer_items(path: Path) -> list[AuditItem]:
    """Model answers as audit items (a user turn, then the answer)."""
    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AuditInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_answer_lines(text.splitlines(), str(path))


def answers_to_items(answers: list[ModelAnswer]) -> list[AuditItem]:
    return [
        AuditItem(
            id=a.id if a.model is None else f"{a.model}/{a.id}",
            messages=[("user", a.prompt), ("assistant", a.answer)],
            topic=a.topic,
            model=a.model,
        )
        for a in answers
    ]
