"""Which steps of which jobs are running now, and which were abandoned by a dead worker.

A worker killed with SIGKILL leaves its message un-acked in Redis until the broker's visibility
timeout, and its chord never fires: the job would wait for the reconciler's stale limit. Each
step therefore registers itself here while it runs, beside the short lease it already holds
(renewed every third of its TTL). An entry whose lease is gone was abandoned: its holder died
without reaching the `finally` that removes it. The reconciler finds those every few seconds
with Redis alone (no store listing) and re-drives their jobs, so a killed worker's job moves again
within a lease TTL plus one check interval, not after the stale limit.

Registration happens after the lease is taken and ends before it is released, so a live step is
never reported. Each operation is one Lua script, atomic in Redis, so the set of jobs with
entries never drops a job that still has one.

Without Redis (one process, in-memory broker) there is nothing to recover and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LEASE_PREFIX = "advisor:lease:evaluator:"  # advisor_shared.lease's key of `evaluator:<job>:<step>`

_REGISTER = """
redis.call('hset', KEYS[1], ARGV[1], '1')
redis.call('sadd', KEYS[2], ARGV[2])
"""
_UNREGISTER = """
redis.call('hdel', KEYS[1], ARGV[1])
if redis.call('hlen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
"""
# ARGV[1]: the job's lease prefix. Returns the abandoned steps and forgets them.
_ABANDONED = """
local lost = {}
for _, step in ipairs(redis.call('hkeys', KEYS[1])) do
  if redis.call('exists', ARGV[1] .. step) == 0 then
    redis.call('hdel', KEYS[1], step)
    table.insert(lost, step)
  end
end
if redis.call('hlen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[2]) end
return lost
"""


def _steps_key(job_id: str) -> str:
    return f"advisor:evaluator:inflight:{job_id}"


def _jobs_key(queue: str) -> str:
    """The jobs with entries, per queue: deployments sharing a Redis re-drive only their own."""
    return f"advisor:evaluator:inflight-jobs:{queue}"


@contextmanager
def running(redis: Any | None, queue: str, job_id: str, step: str) -> Iterator[None]:
    """Register `step` (a unit name or "advance") of `job_id` for the duration of the block.
    The caller holds the lease `evaluator:<job_id>:<step>`."""
    if redis is None:
        yield
        return
    keys = [_steps_key(job_id), _jobs_key(queue)]
    redis.eval(_REGISTER, 2, *keys, step, job_id)
    try:
        yield
    finally:
        redis.eval(_UNREGISTER, 2, *keys, step, job_id)


def abandoned(redis: Any | None, queue: str) -> dict[str, list[str]]:
    """Jobs of `queue` with steps whose worker died (registered, lease expired), each with those
    steps. Each abandoned step is reported once."""
    if redis is None:
        return {}
    found: dict[str, list[str]] = {}
    jobs_key = _jobs_key(queue)
    for raw in redis.smembers(jobs_key):
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        lost = redis.eval(
            _ABANDONED, 2, _steps_key(job_id), jobs_key, f"{LEASE_PREFIX}{job_id}:", job_id
        )
        if lost:
            found[job_id] = [s.decode() if isinstance(s, bytes) else str(s) for s in lost]
    return found
