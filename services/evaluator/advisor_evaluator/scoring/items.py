"""One prompt of an evaluation, as hygiene and the plan see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EvalItem:
    """One prompt to answer. `key` is its stable position-based name inside a job's results."""

    key: str
    id: str
    prompt: str
    reference: str | None
    topic: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalItem:
        return cls(**data)


def item_key(index: int) -> str:
    return f"i{index:05d}"
