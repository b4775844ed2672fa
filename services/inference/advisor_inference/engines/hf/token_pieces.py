"""The text and exact bytes of single tokens, for logprobs.

Decoding one token id on its own loses information: a byte-level BPE token may hold half of a
UTF-8 character (it decodes to U+FFFD), and sentencepiece decoders strip the leading space of
the first token. So the bytes come from the token's vocabulary entry: byte-level BPE entries
map back through GPT-2's byte table, sentencepiece byte-fallback entries (`<0xE2>`) are that
byte, and other sentencepiece entries are their text with `▁` as a space. Joined, the bytes of
the generated tokens are the completion's UTF-8 bytes.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

from ..base import TokenLogprob, TopLogprob
from .sampling import StepLogprobs

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")
SENTENCEPIECE_SPACE = "\u2581"


@cache
def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, reversed."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {stand_in: byte for byte, stand_in in bytes_to_unicode().items()}


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return type(decoder).__name__ == "ByteLevel"


class TokenPieces:
    """Token id → (text, bytes), cached; thread-safe (the tokenizer is shared with the engine's
    request side under `lock`)."""

    def __init__(self, tokenizer: Any, lock: threading.Lock):
        self._tokenizer, self._lock = tokenizer, lock
        self._byte_level = _is_byte_level(tokenizer)
        self._special = set(getattr(tokenizer, "all_special_tokens", []) or [])
        self._pieces: dict[int, tuple[str, list[int]]] = {}

    def piece(self, token_id: int) -> tuple[str, list[int]]:
        found = self._pieces.get(token_id)
        if found is None:
            found = self._pieces[token_id] = self._read(token_id)
        return found

    def _read(self, token_id: int) -> tuple[str, list[int]]:
        with self._lock:
            entry = self._tokenizer.convert_ids_to_tokens(token_id)
            if not isinstance(entry, str) or entry in self._special:
                text = str(self._tokenizer.decode([token_id]))
                return text, list(text.encode("utf-8"))
        fallback = _BYTE_FALLBACK.fullmatch(entry)
        if fallback:
            raw = bytes([int(fallback.group(1), 16)])
        elif self._byte_level and all(ch in _byte_level_decoder() for ch in entry):
            table = _byte_level_decoder()
            raw = bytes(table[ch] for ch in entry)
        else:
            raw = entry.replace(SENTENCEPIECE_SPACE, " ").encode("utf-8")
        return raw.decode("utf-8", errors="replace"), list(raw)

    def render(self, steps: list[StepLogprobs]) -> tuple[TokenLogprob, ...]:
        """The engine-neutral logprobs of these steps."""
        rendered = []
        for step in steps:
            text, raw = self.piece(step.token)
            top = []
            for token_id, logprob in step.top:
                top_text, top_raw = self.piece(token_id)
                top.append(TopLogprob(top_text, logprob, top_raw))
            rendered.append(TokenLogprob(text, step.logprob, raw, tuple(top)))
        return tuple(rendered)
