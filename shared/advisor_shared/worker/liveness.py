"""Which jobs are making progress, and which steps a dead worker abandoned (docs/reliability.md,
F2).

A worker killed with SIGKILL leaves its message un-acked in Redis until the broker's visibility
timeout (13 h). Two signs in Redis let the reconciler (`reconciler.py`) find its job long before:

- a heartbeat per job, a key that expires `stale_after_s` after the last sign of progress
  (refreshed while a step runs, and at submission: queued work is alive);
- an in-flight registry: each step registers itself while it runs, beside the lease it holds
  (renewed every third of its TTL). An entry whose lease is gone was abandoned: its holder died
  without reaching the `finally` that removes it. Found with Redis alone (no store listing), so
  a killed worker's job moves again within a lease TTL plus one check, not after the stale limit.

Registration happens after the lease is taken and ends before it is released, so a live step is
never reported. Each registry operation is one Lua script, atomic in Redis, so the set of jobs
with entries never drops a job that still has one.

Keeping these signs is bookkeeping: while Redis is away (a restart, F4) a step goes on without
them rather than fail. A registration that could not be removed stays behind and is reported
abandoned once its lease is gone, which costs one harmless re-drive.

Without Redis (one process, in-memory broker) there is nothing to recover and nothing is kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..lease import lease_key

log = logging.getLogger(__name__)

_REGISTER = """
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
redis.call('sadd', KEYS[2], ARGV[2])
"""
_UNREGISTER = """
redis.call('hdel', KEYS[1], ARGV[1])
if redis.call('hlen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
"""
# Each entry's value is the Redis key of the lease its step holds. Returns the abandoned steps
# and forgets them.
_ABANDONED = """
local lost = {}
local entries = redis.call('hgetall', KEYS[1])
for i = 1, #entries, 2 do
  if redis.call('exists', entries[i + 1]) == 0 then
    redis.call('hdel', KEYS[1], entries[i])
    table.insert(lost, entries[i])
  end
end
if redis.call('hlen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[1]) end
return lost
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Liveness:
    """The progress signs of one service's jobs on one queue."""

    # Names the keys (`advisor:<service>:heartbeat:<job>`); one per service.
    service: str
    # Deployments sharing a Redis keep their registries apart by queue and re-drive only their own.
    queue: str
    # A job with no sign of progress for this long is stale.
    stale_after_s: float

    def _heartbeat_key(self, job_id: str) -> str:
        return f"advisor:{self.service}:heartbeat:{job_id}"

    def _steps_key(self, job_id: str) -> str:
        return f"advisor:{self.service}:inflight:{job_id}"

    def _jobs_key(self) -> str:
        return f"advisor:{self.service}:inflight-jobs:{self.queue}"

    def heartbeat(self, redis: Any | None, job_id: str) -> None:
        """Mark the job as alive for `stale_after_s`."""
        if redis is not None:
            redis.set(self._heartbeat_key(job_id), "1", ex=max(1, int(self.stale_after_s)))

    def is_alive(self, redis: Any | None, job_id: str) -> bool:
        if redis is None:
            return True
        return bool(redis.exists(self._heartbeat_key(job_id)))

    @contextmanager
    def keep_alive(self, redis: Any | None, job_id: str) -> Iterator[None]:
        """Refresh the job's heartbeat while the block runs (a long step is progress)."""
        if redis is None:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.stale_after_s / 3):
                try:
                    self.heartbeat(redis, job_id)
                except Exception as exc:  # noqa: BLE001 - Redis away: beat again next time
                    log.warning("heartbeat of %s %s not refreshed: %s", self.service, job_id, exc)

        self.heartbeat(redis, job_id)
        thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    @contextmanager
    def running(self, redis: Any | None, job_id: str, step: str, lease: str) -> Iterator[None]:
        """Register `step` of `job_id` for the duration of the block. The caller holds the lease
        named `lease` (as given to `Lease`); once it is gone with the entry still here, the step
        was abandoned."""
        if redis is None:
            yield
            return
        keys = [self._steps_key(job_id), self._jobs_key()]
        try:
            redis.eval(_REGISTER, 2, *keys, step, job_id, lease_key(lease))
        except Exception as exc:  # noqa: BLE001 - Redis away: the heartbeat backstop remains
            log.warning("%s %s step %s runs unregistered: %s", self.service, job_id, step, exc)
            yield
            return
        try:
            yield
        finally:
            try:
                redis.eval(_UNREGISTER, 2, *keys, step, job_id)
            except Exception as exc:  # noqa: BLE001 - left behind: one harmless re-drive later
                log.warning("%s %s step %s left registered: %s", self.service, job_id, step, exc)

    def abandoned(self, redis: Any | None) -> dict[str, list[str]]:
        """Jobs with steps whose worker died (registered, lease expired), each with those steps.
        Each abandoned step is reported once."""
        if redis is None:
            return {}
        found: dict[str, list[str]] = {}
        jobs_key = self._jobs_key()
        for raw in redis.smembers(jobs_key):
            job_id = _text(raw)
            lost = redis.eval(_ABANDONED, 2, self._steps_key(job_id), jobs_key, job_id)
            if lost:
                found[job_id] = [_text(step) for step in lost]
        return found
