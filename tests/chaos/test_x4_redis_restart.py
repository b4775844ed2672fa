"""docs/reliability.md, X4 (F4, F5): restart Redis (a server this test starts, AOF `everysec`) while
evaluator and auditor jobs are queued and running on real worker processes. Figure: seconds until
every worker consumes again after Redis is back, jobs lost (target 0)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos.chaos_kit import (
    Auditor,
    evaluation_request,
    evaluation_results,
    evaluator,
    sample_lines,
    slow_stub,
)
from tests.integration.reliability.services import figure, own_redis

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200)]
JOBS = 3  # per service before the restart; one more of each is submitted after it
ITEMS = 4


def newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths), default=0.0)


def test_x4_redis_restart_under_jobs(tmp_path: Path, capsys) -> None:
    with (
        own_redis(tmp_path / "redis", appendonly=True) as redis,
        slow_stub(tmp_path / "stub", delay=0.3) as inference,
        evaluator(tmp_path / "evaluator", redis.url, inference) as group,
    ):
        auditor = Auditor(tmp_path / "auditor", redis.url)
        try:
            group.start_worker("ew0")
            auditor.start_worker("aw0")
            with group.client() as ev, auditor.client() as au:
                evaluations = [
                    ev.post("/v1/evaluations", json=evaluation_request(ITEMS, f"j{n}")).json()["id"]
                    for n in range(JOBS)
                ]
                audits = [auditor.submit(au, sample_lines(10 * n, 10)) for n in range(JOBS)]
                deadline = time.monotonic() + 300
                while not (
                    any(evaluation_results(group, j) for j in evaluations)
                    and any(auditor.chunks(j) for j in audits)
                ):
                    assert time.monotonic() < deadline, "the workers never started"
                    time.sleep(0.1)

                redis.restart(down_s=2.0)
                back = time.time()
                # Work published after the restart must be consumed too.
                evaluations.append(
                    ev.post("/v1/evaluations", json=evaluation_request(ITEMS, "after")).json()["id"]
                )
                audits.append(auditor.submit(au, sample_lines(5, 10)))

                consumed: dict[str, float] = {}
                deadline = time.monotonic() + 300
                while len(consumed) < 2 and time.monotonic() < deadline:
                    ev_new = newest([p for j in evaluations for p in evaluation_results(group, j)])
                    au_new = newest([p for j in audits for p in auditor.chunks(j)])
                    for name, stamp in (("evaluator", ev_new), ("auditor", au_new)):
                        if name not in consumed and stamp > back:
                            consumed[name] = stamp - back
                    time.sleep(0.1)

                finished = [group.wait_finished(j, timeout=300)["status"] for j in evaluations]
                finished += [auditor.wait_finished(au, j, timeout=300)["status"] for j in audits]
        finally:
            auditor.stop()
    lost = sum(status != "succeeded" for status in finished)
    slowest = max(consumed.values(), default=float("nan"))
    text = (
        f"Redis restarted (2 s down) under {2 * JOBS} jobs, +2 submitted after: evaluator "
        f"worker consumed again after {consumed.get('evaluator', float('nan')):.1f} s, auditor "
        f"after {consumed.get('auditor', float('nan')):.1f} s; {len(finished) - lost}/"
        f"{len(finished)} jobs succeeded, {lost} lost"
    )
    ok = len(consumed) == 2 and lost == 0
    with capsys.disabled():
        figure("X4 Redis restart under jobs", text, runs=len(finished), faults=1, lost=lost, ok=ok)
    assert len(consumed) == 2, f"workers that never consumed again: {consumed}"
    assert lost == 0
    assert slowest < 120
