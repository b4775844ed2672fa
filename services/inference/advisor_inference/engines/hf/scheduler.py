"""The HF engine's one worker thread: collects concurrent requests into batches (dynamic
batching), lets new requests join a running batch, and runs adapter loads between steps.

Requests wait `window_s` after the first arrival so that a burst is prefilled together; a batch
holds one model instance (base + adapters, or the merged model) and at most `max_batch_size`
rows. A failed step fails only the rows of that batch; the thread keeps serving.

Over the static KV cache (`runner.static`, see static_decode) a batch also holds one adapter,
since a captured step computes one; while requests for another adapter wait, the running batch
takes no new rows, so it drains and the waiting group goes next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from transformers import DynamicCache

from .batch import ActiveBatch, length_groups
from .runner import ModelRunner
from .sequence import Sequence
from .static_batch import StaticBatch

Batch = ActiveBatch | StaticBatch

log = logging.getLogger(__name__)


class BatchScheduler:
    """Owns the decode loop. Thread-safe entry points: `submit`, `call`, `unload_when_idle`."""

    def __init__(
        self,
        runner: ModelRunner,
        *,
        detokenize: Callable[[list[int]], str],
        pad_id: int,
        eos_ids: set[int],
        cache_config: Callable[[str], Any],
        max_batch_size: int = 8,
        window_s: float = 0.005,
    ):
        self._runner, self._detokenize = runner, detokenize
        self._pad_id, self._eos_ids, self._cache_config = pad_id, eos_ids, cache_config
        self._max_batch, self._window = max_batch_size, window_s
        self._pending: deque[Sequence] = deque()
        self._control: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._unloads: dict[str, Future[None]] = {}
        self._wake = threading.Condition()
        self._active: Batch | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hf-batcher", daemon=True)
        self.steps = 0
        self.prefills = 0
        self.prefill_tokens_saved = 0
        self.largest_batch = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._thread.join(timeout=30)

    @property
    def runner(self) -> ModelRunner:
        """The weights; touch them only from a `call`ed function (the worker thread)."""
        return self._runner

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, sequence: Sequence) -> None:
        with self._wake:
            self._pending.append(sequence)
            self._wake.notify_all()

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run `fn` on the worker thread between two decode steps."""
        future: Future[Any] = Future()
        with self._wake:
            self._control.append((fn, future))
            self._wake.notify_all()
        return future

    def unload_when_idle(self, adapter: str) -> Future[None]:
        """Detach `adapter` once no pending or running row uses it (in-flight requests finish)."""
        future: Future[None] = Future()
        with self._wake:
            self._unloads[adapter] = future
            self._wake.notify_all()
        return future

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    break
                if self._active is None and not self._pending and not self._control:
                    if not self._unloads:
                        self._wake.wait(timeout=0.5)
            self._run_control()
            self._run_unloads()
            try:
                self._schedule_and_step()
            except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the engine
                log.exception("decode step failed; failing the rows of this batch")
                self._fail_active(exc)
        self._fail_active(RuntimeError("engine is shutting down"))
        for sequence in self._drain_pending():
            sequence.emit(RuntimeError("engine is shutting down"))

    def _schedule_and_step(self) -> None:
        if self._active is None:
            group = self._collect_burst()
            if not group:
                return
            self._active = self._start(group)
        else:
            joiners = self._take_group(self._max_batch - len(self._active.rows))
            if joiners:
                self._join(self._active, joiners)
        self.largest_batch = max(self.largest_batch, len(self._active.rows))
        active = self._active
        if isinstance(active, StaticBatch):
            active.step(self._decode_for(active), self._detokenize, self._eos_ids)
        else:
            active.step(self._forward_for(active.instance), self._detokenize, self._eos_ids)
        self.steps += 1
        if not self._active.rows:
            self._active = None

    def _start(self, rows: list[Sequence]) -> Batch:
        if self._runner.static is None:
            return self._prefill(rows)
        static = self._runner.static
        batch = StaticBatch(rows[0].instance, rows[0].adapter, static.store_prompt, static.move)
        self._join(batch, rows)
        return batch

    def _join(self, active: Batch, rows: list[Sequence]) -> None:
        if isinstance(active, ActiveBatch):
            active.absorb(self._prefill(rows))
            return
        instance = rows[0].instance
        cache = DynamicCache(config=self._cache_config(instance))
        try:
            active.admit(rows, self._forward_for(instance), self._pad_id, cache)
        except Exception as exc:
            for row in rows:
                row.emit(exc)
            raise

    def _decode_for(self, batch: StaticBatch) -> Callable[[list[int], list[int]], Any]:
        def decode(ids: list[int], positions: list[int]) -> Any:
            return self._runner.decode_static(batch.instance, batch.adapter, ids, positions)

        return decode

    def _group_of(self, sequence: Sequence) -> tuple[str, str | None]:
        """What rows must share to run in one batch."""
        if self._runner.static is None:
            return sequence.instance, None
        return sequence.instance, sequence.adapter

    def _collect_burst(self) -> list[Sequence]:
        with self._wake:
            if not self._pending:
                return []
        deadline = time.monotonic() + self._window
        while time.monotonic() < deadline:
            with self._wake:
                if len(self._pending) >= self._max_batch:
                    break
                self._wake.wait(timeout=max(0.0, deadline - time.monotonic()))
        with self._wake:
            self._drop_cancelled()
            if not self._pending:
                return []
            group = self._group_of(self._pending[0])
        return self._take_group(self._max_batch, group)

    def _take_group(
        self, limit: int, group: tuple[str, str | None] | None = None
    ) -> list[Sequence]:
        """Up to `limit` pending rows of `group` (default: the running batch's)."""
        if group is None:
            if self._active is None or not self._active.rows:
                return []
            group = self._group_of(self._active.rows[0])
        taken: list[Sequence] = []
        with self._wake:
            self._drop_cancelled()
            if (
                self._runner.static is not None
                and self._active is not None
                and any(self._group_of(s) != group for s in self._pending)
            ):
                return []  # another group waits: let the running batch drain first
            kept: deque[Sequence] = deque()
            while self._pending:
                sequence = self._pending.popleft()
                if len(taken) < limit and self._group_of(sequence) == group:
                    taken.append(sequence)
                else:
                    kept.append(sequence)
            self._pending = kept
        return taken

    def _drop_cancelled(self) -> None:
        self._pending = deque(s for s in self._pending if not s.cancelled)

    def _prefill(self, rows: list[Sequence]) -> ActiveBatch:
        """Prefill `rows` in groups of similar prompt length (little padding), one batch after."""
        instance = rows[0].instance
        batch: ActiveBatch | None = None
        try:
            for group in length_groups(rows):
                cache = DynamicCache(config=self._cache_config(instance))
                part = ActiveBatch.prefill(group, self._forward_for(instance), self._pad_id, cache)
                self.prefills += 1
                self.prefill_tokens_saved += part.tokens_saved
                if batch is None:
                    batch = part
                else:
                    batch.absorb(part)
        except Exception as exc:
            for row in rows:
                row.emit(exc)
            raise
        assert batch is not None
        return batch

    def _forward_for(self, instance: str) -> Callable[..., Any]:
        def forward(ids: Any, mask: Any, positions: Any, cache: Any, adapters: Any) -> Any:
            return self._runner.forward(instance, ids, mask, positions, cache, adapters)

        return forward

    def _run_control(self) -> None:
        while True:
            with self._wake:
                if not self._control:
                    return
                fn, future = self._control.popleft()
            try:
                future.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - reported to the caller through the future
                future.set_exception(exc)

    def _run_unloads(self) -> None:
        with self._wake:
            in_use = {s.adapter for s in self._pending}
            if self._active is not None:
                in_use |= {r.adapter for r in self._active.rows}
            ready = [name for name in self._unloads if name not in in_use]
            futures = [(name, self._unloads.pop(name)) for name in ready]
        for name, future in futures:
            try:
                self._runner.unload_adapter(name)
                future.set_result(None)
            except Exception as exc:  # noqa: BLE001 - reported to the caller through the future
                future.set_exception(exc)

    def _fail_active(self, exc: BaseException) -> None:
        if self._active is None:
            return
        for row in self._active.rows:
            if not row.done:
                row.emit(exc)
        self._active = None

    def _drain_pending(self) -> list[Sequence]:
        with self._wake:
            drained = list(self._pending)
            self._pending.clear()
        return drained
