"""A renewed lease per job id, so a redelivered message never starts a second run (F1).

With Redis: `SET key token NX PX ttl`, renewed by a background thread while the work runs and
released only by its holder (compare-and-delete in Lua). Without Redis (one process, in-memory
broker) a process-local registry gives the same semantics.
"""

from __future__ import annotations

import threading
import uuid
from types import TracebackType
from typing import Any

_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_local_holders: dict[str, str] = {}
_local_lock = threading.Lock()


def lease_key(name: str) -> str:
    """The Redis key of the lease `name` (what `Lease.name` holds)."""
    return f"advisor:lease:{name}"


class Lease:
    """`with Lease(redis, "train:<job>") as lease: if not lease.held: return`."""

    def __init__(self, redis_client: Any | None, name: str, ttl_s: float = 60.0):
        self.redis, self.name, self.ttl_ms = redis_client, lease_key(name), int(ttl_s * 1000)
        self.token = uuid.uuid4().hex
        self.held = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> bool:
        if self.redis is None:
            with _local_lock:
                if self.name in _local_holders:
                    return False
                _local_holders[self.name] = self.token
        elif not self.redis.set(self.name, self.token, nx=True, px=self.ttl_ms):
            return False
        self.held = True
        if self.redis is not None:
            self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
            self._renewer.start()
        return True

    def _renew_loop(self) -> None:
        redis = self.redis
        assert redis is not None
        while not self._stop.wait(self.ttl_ms / 3000):
            if not redis.eval(_RENEW, 1, self.name, self.token, self.ttl_ms):
                self.held = False  # lost (e.g. Redis restarted empty): the holder should stop
                return

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if not self.held:
            return
        if self.redis is None:
            with _local_lock:
                if _local_holders.get(self.name) == self.token:
                    del _local_holders[self.name]
        else:
            self.redis.eval(_RELEASE, 1, self.name, self.token)
        self.held = False

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lease_held(redis_client: Any | None, name: str) -> bool:
    """Whether anyone holds the lease `name` right now (for schedulers deciding not to dispatch
    work that is already in flight)."""
    key = lease_key(name)
    if redis_client is None:
        with _local_lock:
            return key in _local_holders
    return bool(redis_client.exists(key))
