"""Run the reliability experiments (docs/reliability.md, X1–X16) and write their figures to
the last section of docs/reliability.md and to benchmarks/results/reliability.json.

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
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:randomly",
        "-m",
        marker,
        *targets,
    ]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    rows = [
        json.loads(line.split(" ", 1)[1])
        for line in proc.stdout.splitlines()
        if line.startswith("FIGURE ")
    ]
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " in " in line), "")
    shown = " ".join(["python -m pytest", "-m", repr(marker), *targets])
    return rows, f"{shown}  ->  {summary.strip('= ')}", proc.returncode, time.monotonic() - started


def recovery_s(rows: list[dict]) -> float | None:
    """Seconds from a worker's SIGKILL to its job done (issue 17's bound: 60)."""
    return next((row["recovery_s"] for row in rows if "recovery_s" in row), None)


PAGE = REPO / "docs" / "reliability.md"
# Everything above this heading is written by hand (the failure modes, the experiments, how to
# run them); this script rewrites only the section it opens, to the end of the page.
LAST_RUN = "\n## Last run\n"


def last_run(rows: list[dict], commands: list[str]) -> str:
    """The page's last section: the commands, pytest's summaries and one row per figure."""
    recovery = recovery_s(rows)
    recovery = f"{recovery} s" if recovery is not None else "not run"
    head = "| " + " | ".join(COLUMNS) + " | figure |\n|" + "---|" * (len(COLUMNS) + 1) + "\n"
    body = "".join(
        "| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + f" | {row['figure']} |\n"
        for row in rows
    )
    ran = "\n".join(f"    {c}" for c in commands)
    return f"""
Commands (and pytest's summary):

{ran}

Recovery after a worker's SIGKILL (`recovery_s`, issue 17's bound 60 s): {recovery}.

Columns: *runs* requests or cycles made, *faults* faults or hostile inputs injected, *lost*
jobs/items/statuses lost (or routes that answered without a key, literal credentials found,
hostile bundles let through, requests that failed with a 5xx or a timeout), *duplicated* extra
jobs or effects, *refused* requests or inputs refused as they should be (401, 413, 429, 4xx or
a clear error for hostile bundles).

{head}{body}"""


def write_page(rows: list[dict], commands: list[str]) -> None:
    """Replace the last section of docs/reliability.md, keeping everything above it."""
    page = PAGE.read_text()
    above, found, _ = page.partition(LAST_RUN)
    if not found:
        sys.exit(f"{PAGE.relative_to(REPO)} has no '{LAST_RUN.strip()}' section to rewrite")
    PAGE.write_text(above + LAST_RUN + last_run(rows, commands))


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
    result = {
        "machine": f"{platform.system()} {platform.machine()}, python {platform.python_version()}",
        "commands": commands,
        "recovery_s": recovery_s(rows),
        "rows": rows,
    }
    (REPO / "benchmarks" / "results" / "reliability.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    write_page(rows, commands)
    print(f"{len(rows)} figures, {sum(r['result'] != 'pass' for r in rows)} failing")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
