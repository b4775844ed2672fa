"""What the console's handlers share, built once with the gateway app."""

from __future__ import annotations

from dataclasses import dataclass

from advisor_shared.store import ObjectStore

from ..adapters.service import AdapterService
from .backends import Backends
from .session import SessionCodec


@dataclass(frozen=True)
class ConsoleState:
    codec: SessionCodec
    backends: Backends
    store: ObjectStore
    adapters: AdapterService
    flower_url: str | None = None
    # What the gateway serves as its base: (alias, model, engine), for the adapters page.
    base: tuple[str, str, str] = ("base", "", "")
