"""The one reliability policy of every job task (docs/reliability.md, F1 and F2).

Late acknowledgement and requeue when the worker is lost, so a killed worker's message is not
lost; bounded retries; a hard time limit below the broker's visibility timeout, so Redis never
hands a task that is still running to a second worker. Each app keeps its own task objects
(`shared=False`): the API, the worker and a test may build apps on different runtimes.
"""

from __future__ import annotations

from typing import Any

from ..queue import VISIBILITY_TIMEOUT_S


def reliable_task(
    time_limit_s: float,
    *,
    soft_time_limit_s: float | None = None,
    max_retries: int = 3,
    **options: Any,
) -> dict[str, Any]:
    """The options of `app.task(name=..., **reliable_task(...))`; `options` adds a task's own
    (its retry delay, the exceptions it retries on)."""
    if time_limit_s >= VISIBILITY_TIMEOUT_S:
        raise ValueError(
            f"time limit {time_limit_s:.0f} s is not below the visibility timeout "
            f"{VISIBILITY_TIMEOUT_S} s: Redis would redeliver the task while it runs (F1)"
        )
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more: retries are bounded")
    policy: dict[str, Any] = {
        "bind": True,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "max_retries": max_retries,
        "time_limit": time_limit_s,
        "shared": False,
    }
    if soft_time_limit_s is not None:
        policy["soft_time_limit"] = soft_time_limit_s
    return {**policy, **options}
