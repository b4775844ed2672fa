"""Helpers of the cancel tests: watch a job's status, read what the store holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def own_redis_url(redis_url: str) -> str:
    """A database of its own: the auditor and trainer queues have fixed names, and a worker of
    another test run on this Redis must never take these tasks."""
    return redis_url.rsplit("/", 1)[0] + "/13"


def watch_until(
    read: Callable[[], dict], done: Callable[[dict], bool], timeout: float
) -> tuple[dict, list[str]]:
    """Poll `read` until `done`; return the last answer and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        body = read()
        seen.append(body["status"])
        if done(body):
            return body, seen
        assert time.monotonic() < deadline, f"not done after {timeout} s: {body}"
        time.sleep(0.25)


def stored(root: Path, prefix: str) -> dict[str, bytes]:
    base = root / prefix
    return (
        {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file() and not p.name.startswith(".tmp-")
        }
        if base.is_dir()
        else {}
    )
