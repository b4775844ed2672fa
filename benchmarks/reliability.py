"""Run the reliability experiments of RELIABILITY.md and write their figures to
docs/reliability.md and benchmarks/results/reliability.json.

    .venv/bin/python benchmarks/reliability.py            # the cheap ones (as in `make test`)
    .venv/bin/python benchmarks/reliability.py --chaos    # plus the chaos experiments
    .venv/bin/python benchmarks/reliability.py --slow     # plus 1000 fuzz examples per operation

Every test prints `FIGURE {json}` lines (tests/integration/reliability/services.py::figure);
this script gathers them, with each test's pass/fail, into one table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The experiments of `make test`: the reliability suite and the services' own X6/X11 tests.
CHEAP = [
    "tests/integration/reliability",
    "tests/integration/inference/test_inference_hostile_ramp.py",
    "tests/integration/trainer/test_trainer_hostile_resume.py",
    "tests/integration/inference/test_inference_admission_ramp.py",
    "tests/unit/inference/test_inference_gateway.py",
    "tests/security/test_worker_recovery.py",  # `recovery_s`: issue 17, finding 4
]
CHAOS = ["tests/chaos"]
COLUMNS = ("experiment", "runs", "faults", "lost", "duplicated", "refused", "result")


def run(targets: list[str], marker: str) -> tuple[list[dict], str, int, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "-m", marker,
               *targets]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    rows = [json.loads(line.split(" ", 1)[1]) for line in proc.stdout.splitlines()
            if line.startswith("FIGURE ")]  # fmt: skip
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " in " in line), "")
    shown = " ".join(["python -m pytest", "-m", repr(marker), *targets])
    return rows, f"{shown}  ->  {summary.strip('= ')}", proc.returncode, time.monotonic() - started


def recovery_s(rows: list[dict]) -> float | None:
    """Seconds from a worker's SIGKILL to its job done (issue 17's bound: 60)."""
    return next((row["recovery_s"] for row in rows if "recovery_s" in row), None)


def markdown(rows: list[dict], commands: list[str]) -> str:
    recovery = recovery_s(rows)
    recovery = f"= {recovery} s (last run below)" if recovery is not None else "(not run)"
    head = "| " + " | ".join(COLUMNS) + " | figure |\n|" + "---|" * (len(COLUMNS) + 1) + "\n"
    body = "".join(
        "| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + f" | {row['figure']} |\n"
        for row in rows
    )
    ran = "\n".join(f"    {c}" for c in commands)
    return f"""# Reliability figures

The fault experiments of RELIABILITY.md (X1–X16), run as tests. Each test prints the figure it
measures and asserts it; this page is written by `benchmarks/reliability.py` from their output
(raw rows: `benchmarks/results/reliability.json`). Columns: *runs* requests or cycles made,
*faults* faults or hostile inputs injected, *lost* jobs/items/statuses lost (or routes that
answered without a key, literal credentials found, hostile bundles let through, requests that
failed with a 5xx or a timeout), *duplicated* extra jobs or effects, *refused* requests or
inputs refused as they should be (401, 413, 429, 4xx or a clear error for hostile bundles).

## How to run

- Cheap experiments run in `make test`: `tests/integration/reliability` (X9, X10, X13, X16,
  secrets) and the services' own X6 and X11 tests: 130 hostile bundles posted to the gateway
  over the real engine (`tests/integration/inference/test_inference_hostile_ramp.py`), 140
  given to the trainer as the bundle to resume from
  (`tests/integration/trainer/test_trainer_hostile_resume.py`), a ramp of 1 to 64 concurrent
  requests against a gateway that admits 4
  (`tests/integration/inference/test_inference_admission_ramp.py`), and the admission logic
  over a scripted engine (`tests/unit/inference/test_inference_gateway.py`); and the time an
  evaluator job takes to finish after its worker is SIGKILLed, with the production timing
  settings (`tests/security/test_worker_recovery.py`, `recovery_s` in the JSON).
- Chaos experiments (`tests/chaos`, marker `chaos`, not in `make test`; about 5 minutes on two
  cores): `.venv/bin/python -m pytest -m chaos tests/chaos`. Each starts a redis-server of its
  own on a free port and real worker processes: X1 20 SIGKILLs of an evaluator worker and 20 of
  an auditor worker at seeded random points of tiny jobs, X2 one run of the tiny model stopped 10
  times (SIGTERM and SIGKILL alternating) and resumed, X3 endpoint calls four times longer
  than a visibility timeout scaled down to 3 s (overdue messages looked for every second, not
  every 100 s) on two workers, X4 Redis restarted under evaluator and auditor jobs (AOF
  `everysec`). `ADVISOR_CHAOS_KILLS` / `ADVISOR_CHAOS_RUNS` make a quick try shorter. Also
  under `chaos`: 5 evaluator kills with the judge metric
  (`tests/integration/evaluator/test_evaluator_chaos.py`).
- X9 fuzzing runs 200 examples per operation in `make test`; 1000 per operation (about 2 minutes):
  `.venv/bin/python -m pytest -m slow tests/integration/reliability`.
- This page: `.venv/bin/python benchmarks/reliability.py [--chaos] [--slow]`.

Related experiments owned by each service's tests: X1 single kills
(`tests/integration/evaluator`), X2 SIGTERM/SIGKILL hand-offs (`tests/integration/trainer`), X3's
redelivered copy of a unit in flight (`tests/integration/evaluator/test_evaluator_redelivery.py`),
adapter names that would escape their prefix
(`tests/integration/test_bundle_store.py::test_hostile_names_are_refused`).

## Security probes (issue 17)

Each finding of the independent probe has a regression test in `tests/security` (in `make
test`); each failed on the code before its fix.

| finding | probe | before | now | test |
|---|---|---|---|---|
| SSRF through the judge | `judge.base_url` = a loopback listener | listener got `GET /v1/models` with the judge key; verdicts forgeable | 400 `judge.base_url is not accepted`; listener got 0 requests | `test_judge_ssrf.py` |
| error echo / port scan | configured judges: closed port, HTTP 500, HTTP 404 with a body | body echoed (300 chars); "unreachable" vs "HTTP nnn" | one 503 `judge_unavailable` message for all three; body only in the log | `test_judge_ssrf.py` |
| unbounded clients | unknown endpoint names | one client per URL, forever | clients only for configured URLs | `test_judge_ssrf.py` |
| admin by any key | `DELETE`/`POST /v1/adapters`, `POST /v1/training-jobs` with an app key | 200/201/202 | 403 `admin_key_required`; job records carry `owner` (key id) | `test_key_scopes.py` |
| abandoned work | 4 non-streamed `max_tokens: 3000` requests abandoned after 2 s, `advisor serve` process | gateway at 67 % of a core afterwards | 0 % of a core, in flight 0 | `test_abandoned_work.py` |
| one key fills the gateway | 5th concurrent request of one key (`MAX_IN_FLIGHT_PER_KEY=4`) | admitted | 429 `key_quota` | `test_abandoned_work.py` |
| trainer accepts anything | `base_model` `/etc`, `someone/any-hub-repo`, `../x`; `max_steps` 1e12, `micro_batch_size` 1e5, `max_seq_len` 1e8, `session_budget` 99999999999h; `POST {{}}` | 202 | 400 naming the field | `test_trainer_inputs.py` |
| bad text | `"a\\ud800b"` in chat, adapter, trainer, evaluator and auditor fields | 500 (gateway, trainer) | 400 `invalid_text` naming the field, all four services | `test_bad_text.py` |
| open details | `/readyz`, `/healthz`, `/metrics` without a key | models, adapters, start-up errors, per-model counts | `{{"status"}}` only; `/metrics` and `/v1/status` 401 without a key | `test_public_endpoints.py` |
| slow clients | 40 raw sockets against the evaluator API run by its image's CMD: silent, partial headers, headers dripped a byte at a time, partial body, body dripped (read deadline 2 s in the test, 15 s by default) | held indefinitely | each closed at the deadline (2.0 s), 408 where no request was read; a prompt client and kept-alive connections still served | `test_slow_clients.py` |
| shutdown with work in flight | SIGTERM to `advisor serve` with a `max_tokens: 3000` non-streamed generation in flight | waited for the generation (hung for minutes; 28 s on the test's prompt) | exits 8.6 s after SIGTERM (bound 8 s), the generation cancelled, the client answered 503 `shutting_down` with Retry-After | `test_bounded_shutdown.py` |
| slow recovery after a worker kill | evaluator worker SIGKILLed holding units of a job, production timing settings, a second worker started | job waited 6 min 19 s (stale after 300 s, looked for every 60 s) | job done once within 60 s: `recovery_s` {recovery} | `test_worker_recovery.py` |

## Last run

Commands (and pytest's summary):

{ran}

{head}{body}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chaos", action="store_true", help="also run tests/chaos")
    parser.add_argument("--slow", action="store_true", help="also run the 1000-example fuzzing")
    args = parser.parse_args()
    rows: list[dict] = []
    commands: list[str] = []
    failed = 0
    plan = [(CHEAP, "not slow and not chaos")]
    if args.slow:
        plan.append((CHEAP, "slow"))
    if args.chaos:
        plan.append((CHAOS, "chaos"))
    for targets, marker in plan:
        found, command, rc, seconds = run(targets, marker)
        print(f"{command} ({seconds:.0f} s)")
        rows += found
        commands.append(command)
        failed += rc not in (0, 5)
    (REPO / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    result = {"machine": f"{platform.system()} {platform.machine()}, python "
              f"{platform.python_version()}", "commands": commands,
              "recovery_s": recovery_s(rows), "rows": rows}  # fmt: skip
    (REPO / "benchmarks" / "results" / "reliability.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    (REPO / "docs" / "reliability.md").write_text(markdown(rows, commands))
    print(f"{len(rows)} figures, {sum(r['result'] != 'pass' for r in rows)} failing")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
