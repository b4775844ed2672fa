"""SIGTERM and SIGINT ask the trainer to stop at the next step boundary and hand over.

Kaggle and Kubernetes both send SIGTERM before killing a session; finishing the running step
and writing the bundle loses no completed step (docs/reliability.md, X2). A second signal is
honoured the same way: the step boundary is never more than one step away.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class StopRequest:
    """A flag set by a signal (or by code), checked by the training loop between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request(signal.Signals(signum).name)

    def install(self) -> StopRequest:
        """Handle SIGTERM and SIGINT; only possible in the main thread (a no-op elsewhere,
        e.g. in an in-process worker thread, where the caller stops the run by `request`)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> StopRequest:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()
