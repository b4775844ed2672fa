"""The dataset contract (docs/design.md#dataset): one conversation per record.

`{"id", "messages": [{"role": "system"|"user"|"assistant", "content"}...], "topic"?, "meta"?}`.
What users already have is accepted as it is:

- the OpenAI/TRL chat JSONL, `{"messages": [...]}` without `id`: the id is a hash of the
  messages (`content_id`), so the same conversation gets the same id in every run;
- keys the contract does not know are kept in `meta`, not refused;
- the ShareGPT shape of the paper's dataset (`{"conversations": [{"from", "value"}]}`);
- parquet and Arrow files and `datasets` folders written by `save_to_disk`
  (`advisor_shared.dataset_formats`).

Nothing is silently dropped: every invalid record is reported as `file:line: reason` (the row
number for parquet, Arrow and `datasets` folders).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import DatasetError

Role = Literal["system", "user", "assistant"]
SHAREGPT_ROLES: dict[str, Role] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


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


KNOWN_KEYS = ("id", "messages", "topic", "meta")


def content_id(messages: Any) -> str:
    """A stable id for a conversation that has none: a hash of its messages (roles and text),
    so the same conversation gets the same id whatever file, order or run it comes in."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def from_sharegpt(record: dict[str, Any], fallback_id: str) -> dict[str, Any]:
    """Map a ShareGPT record onto the dataset contract (raises ValueError if it cannot).
    Keys besides `conversations` are kept for `normalise_record`."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise ValueError("'conversations' must be a list")
    messages = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("from") not in SHAREGPT_ROLES:
            raise ValueError(f"unknown ShareGPT speaker {str(turn)[:60]!r}")
        messages.append({"role": SHAREGPT_ROLES[turn["from"]], "content": turn.get("value")})
    converted = {key: value for key, value in record.items() if key != "conversations"}
    converted["id"] = str(record.get("id", fallback_id))
    converted["messages"] = messages
    return converted


def normalise_record(record: Any, fallback_id: str) -> dict[str, Any]:
    """A record in the contract's shape: ShareGPT converted, a missing id derived from the
    messages, unknown keys moved into `meta`. Raises ValueError naming what cannot be mapped."""
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    if "conversations" in record and "messages" not in record:
        # ShareGPT exports number their lines; the paper's data has ids like `file-N`.
        record = from_sharegpt(record, fallback_id)
    normalised = {key: record[key] for key in KNOWN_KEYS if key in record}
    if "id" not in normalised:
        normalised["id"] = content_id(record.get("messages"))
    elif isinstance(normalised["id"], int) and not isinstance(normalised["id"], bool):
        normalised["id"] = str(normalised["id"])  # numbered datasets: 17 and "17" are one id
    extra = {key: value for key, value in record.items() if key not in KNOWN_KEYS}
    if extra:
        meta = normalised.get("meta")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise ValueError("meta must be an object when the record has other unknown keys")
        clash = sorted(set(extra) & set(meta))
        if clash:
            raise ValueError(f"key {clash[0]!r} is both a top-level key and a key of meta")
        normalised["meta"] = {**meta, **extra}
    return normalised


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def parse_records(
    records: Iterable[tuple[int, Any]], source: str
) -> tuple[list[Conversation], list[str]]:
    """Validate (number, record) pairs; return the valid conversations and the problems as
    `source:number: reason`. A record that failed to decode is passed as an exception."""
    conversations: list[Conversation] = []
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    stem = Path(source).stem
    for number, record in records:
        try:
            if isinstance(record, json.JSONDecodeError):
                raise record
            conversation = Conversation.model_validate(
                normalise_record(record, fallback_id=f"{stem}-{number}")
            )
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
            first = seen_ids[conversation.id]
            given = isinstance(record, dict) and "id" in record
            problems.append(
                f"{source}:{number}: duplicate id {conversation.id!r} (first on line {first})"
                if given
                else f"{source}:{number}: the same conversation as line {first} (no id given; "
                f"its id {conversation.id!r} is a hash of the messages)"
            )
            continue
        seen_ids[conversation.id] = number
        conversations.append(conversation)
    return conversations, problems


def _decoded(lines: Iterable[str]) -> Iterable[tuple[int, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, exc


def parse_lines(lines: Iterable[str], source: str) -> tuple[list[Conversation], list[str]]:
    """Parse JSONL text; return the valid conversations and `source:line: reason` problems."""
    return parse_records(_decoded(lines), source)


def load_dataset(path: Path, split: str | None = None) -> list[Conversation]:
    """Load a dataset: JSONL, or a parquet/Arrow file or `datasets` folder (`split` picks one
    split of a folder with several). Raise DatasetError listing every bad record, or if the
    dataset is empty or cannot be read."""
    from .dataset_formats import is_columnar, read_rows

    path = Path(path)
    if is_columnar(path):
        source, rows = read_rows(path, split)
        conversations, problems = parse_records(rows, source)
    else:
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
