"""The dataset contract (docs/design.md#dataset): JSONL, one conversation per line.

`{"id", "messages": [{"role": "system"|"user"|"assistant", "content"}...], "topic"?, "meta"?}`.
The ShareGPT shape of the paper's dataset (`{"conversations": [{"from", "value"}]}`) is imported
into it. Nothing is silently dropped: every invalid line is reported as `file:line: reason`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import DatasetError

Role = Literal["system", "user", "assistant"]
SHAREGPT_ROLES: dict[str, Role] = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
    "system": "system",
}  # fmt: skip


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str = Field(min_length=1)


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    messages: list[Message] = Field(min_length=2)
    topic: str | None = None
    meta: dict[str, Any] | None = None

    @field_validator("messages")
    @classmethod
    def _alternating_turns(cls, messages: list[Message]) -> list[Message]:
        turns = [m for m in messages if m.role != "system"]
        if any(m.role == "system" for m in messages[1:]):
            raise ValueError("a system message may only come first")
        if not turns or turns[0].role != "user":
            raise ValueError("the first non-system message must be from the user")
        for previous, current in zip(turns, turns[1:], strict=False):
            if previous.role == current.role:
                raise ValueError(f"two {current.role} messages in a row")
        if not any(m.role == "assistant" for m in turns):
            raise ValueError("no assistant turn: nothing to learn or compare against")
        return messages

    @property
    def first_user_turn(self) -> str:
        return next(m.content for m in self.messages if m.role == "user")

    @property
    def first_assistant_turn(self) -> str:
        return next(m.content for m in self.messages if m.role == "assistant")

    def assistant_turns(self) -> list[tuple[int, str]]:
        return [(i, m.content) for i, m in enumerate(self.messages) if m.role == "assistant"]


def from_sharegpt(record: dict[str, Any], fallback_id: str) -> dict[str, Any]:
    """Map a ShareGPT record onto the dataset contract (raises ValueError if it cannot)."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise ValueError("'conversations' must be a list")
    messages = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("from") not in SHAREGPT_ROLES:
            raise ValueError(f"unknown ShareGPT speaker {str(turn)[:60]!r}")
        messages.append({"role": SHAREGPT_ROLES[turn["from"]], "content": turn.get("value")})
    converted: dict[str, Any] = {"id": str(record.get("id", fallback_id)), "messages": messages}
    for key in ("topic", "meta"):
        if key in record:
            converted[key] = record[key]
    return converted


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def parse_lines(lines: Iterable[str], source: str) -> tuple[list[Conversation], list[str]]:
    """Parse JSONL text; return the valid conversations and `source:line: reason` problems."""
    conversations: list[Conversation] = []
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
            if "conversations" in record and "messages" not in record:
                record = from_sharegpt(record, fallback_id=f"{Path(source).stem}-{number}")
            conversation = Conversation.model_validate(record)
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{number}: not valid JSON ({exc.msg})")
            continue
        except ValidationError as exc:
            problems.append(f"{source}:{number}: {_describe(exc)}")
            continue
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        if conversation.id in seen_ids:
            problems.append(
                f"{source}:{number}: duplicate id {conversation.id!r} (first on line "
                f"{seen_ids[conversation.id]})"
            )
            continue
        seen_ids[conversation.id] = number
        conversations.append(conversation)
    return conversations, problems


def load_dataset(path: Path) -> list[Conversation]:
    """Load a dataset file; raise DatasetError listing every bad line, or if it is empty."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError([f"{path}: no such file"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    conversations, problems = parse_lines(text.splitlines(), str(path))
    if problems:
        raise DatasetError(problems)
    if not conversations:
        raise DatasetError([f"{path}: the dataset holds no conversations"])
    return conversations


def write_dataset(conversations: Iterable[Conversation], path: Path) -> int:
    """Write conversations as JSONL; return how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for conversation in conversations:
            handle.write(conversation.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count
