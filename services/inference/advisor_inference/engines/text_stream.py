"""Turn a growing decoded text into safe-to-emit deltas, honouring stop strings.

Streaming must never emit text that later turns out to be part of a stop string, nor half of a
multi-byte character (the tokenizer decodes an incomplete UTF-8 sequence as U+FFFD).
"""

from __future__ import annotations

from dataclasses import dataclass

REPLACEMENT_CHAR = "\ufffd"


@dataclass
class StopStringFilter:
    """Feed the whole text decoded so far; get back the new part that is safe to emit."""

    stops: tuple[str, ...] = ()
    emitted: int = 0
    stopped: bool = False
    final_text: str | None = None

    def update(self, text: str, *, final: bool = False) -> str:
        """Return the next delta. Once a stop string appears, `stopped` is True and
        `final_text` is the text before it; with `final=True` everything left is released."""
        if self.stopped:
            return ""
        cut = self._first_stop(text)
        if cut is not None:
            self.stopped = True
            self.final_text = text[:cut]
            return self._emit(text, cut)
        if final:
            self.final_text = text
            return self._emit(text, len(text))
        return self._emit(text, len(text) - self._held_back(text))

    def _emit(self, text: str, end: int) -> str:
        if end <= self.emitted:
            return ""
        start, self.emitted = self.emitted, end
        return text[start:end]

    def _first_stop(self, text: str) -> int | None:
        if not self.stops:
            return None
        # Only text not yet emitted (plus an overlap) can hold a new stop string.
        longest = max(len(s) for s in self.stops)
        window_start = max(0, self.emitted - longest + 1)
        found = [i for s in self.stops if (i := text.find(s, window_start)) >= 0]
        return min(found) if found else None

    def _held_back(self, text: str) -> int:
        """Characters at the end that may still become a stop string or a whole character."""
        hold = 1 if text.endswith(REPLACEMENT_CHAR) else 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        return hold
