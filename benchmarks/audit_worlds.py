"""Measure the auditor on independent audit worlds (issue 15): recall by planted class and false
positives on clean answers, per world, for the development worlds and, once, the sealed ones.

Each world under `benchmarks/audit_worlds/<name>/` has `sources/`, `data.jsonl` and
`labels.jsonl`, written blind by someone who saw neither the auditor nor any other world. The
auditor runs as a user runs it (`advisor audit --data --sources --out`, through the same
`run_audit` the CLI calls) and only this harness reads the labels, afterwards, from the
`findings.jsonl` the audit wrote. Scoring is `audit_sample.score_split`, the same as on
data/sample: a planted error is detected when a contradicted finding in the labelled turn covers
its `wrong_text`; a clean answer with any contradicted claim is a false positive.

By default the development worlds and data/sample are scored. Sealed worlds are scored only
with `--sealed`: they exist to measure the method on data nobody tuned on, so the commit that
first scored each one is recorded and kept (a later run never replaces it). A sealed world
that has been scored and then opened for development is renamed `dev-*`; its sealed figures stay
in the results file under `retired_sealed`, which every later run carries over unchanged.

    python benchmarks/audit_worlds.py                      # dev worlds + data/sample
    python benchmarks/audit_worlds.py --sealed             # + every sealed-* world
    python benchmarks/audit_worlds.py dev-fjord            # one world
    python benchmarks/audit_worlds.py --sealed sealed-x    # one sealed world
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORLDS = REPO / "benchmarks" / "audit_worlds"
SAMPLE = REPO / "data" / "sample"
RESULTS = REPO / "benchmarks" / "results" / "audit_worlds.json"
# dev-a, dev-b and dev-c were sealed-a, sealed-b and sealed-c, scored sealed twice and then
# opened for development: see `retired_sealed` in the results file.
DEV_WORLDS = ("dev-lagoon", "dev-fjord", "dev-a", "dev-b", "dev-c", "dev-g", "dev-h", "dev-i")
SAMPLE_WORLDS = ("sample-train", "sample-test")
CLASSES = ("number", "date", "entity", "fabricated_program", "false_premise")
COUNTS = ("planted", "detected")
TOTALS = ("conversations", "clean_answers", "false_positives", "claims")

sys.path.insert(0, str(REPO / "benchmarks"))
from audit_sample import load_labels, score_split  # noqa: E402


def is_sealed(world: str) -> bool:
    return world.startswith("sealed-")


def sealed_world_names() -> list[str]:
    """The sealed worlds' names (folder names only: their contents are not read here)."""
    return sorted(p.name for p in WORLDS.iterdir() if p.is_dir() and is_sealed(p.name))


def world_inputs(world: str) -> tuple[Path, Path, Path]:
    """(data, sources, labels) of a world; data/sample's splits are worlds too."""
    if world in SAMPLE_WORLDS:
        split = world.removeprefix("sample-")
        return SAMPLE / f"{split}.jsonl", SAMPLE / "sources", SAMPLE / "labels.jsonl"
    folder = WORLDS / world
    if not folder.is_dir():
        raise SystemExit(f"no audit world named {world!r} under {WORLDS.relative_to(REPO)}")
    return folder / "data.jsonl", folder / "sources", folder / "labels.jsonl"


def read_audits(out: Path, ids: Iterable[str]) -> list[Any]:
    """The audit as its user sees it: the findings the CLI wrote, grouped by item."""
    from advisor_auditor.conversation_audit import ItemAudit
    from advisor_auditor.findings import Finding

    audits = {item_id: ItemAudit(item_id=item_id, topic=None) for item_id in ids}
    for line in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            finding = Finding.model_validate_json(line)
            audits[finding.item_id].findings.append(finding)
    return list(audits.values())


def score_world(world: str, work: Path) -> dict[str, Any]:
    """Audit one world through `run_audit` and score its findings against the labels."""
    from advisor_auditor.cli import run_audit
    from advisor_shared.dataset import load_dataset

    data, sources, labels_path = world_inputs(world)
    out = work / world
    summary = run_audit(data=data, sources=sources, out=out)["data"]
    conversations = load_dataset(data)
    audits = read_audits(out, (c.id for c in conversations))
    figures = score_split(audits, conversations, load_labels(labels_path))
    return figures | {
        "claims": summary["claims"],
        "seconds": summary["seconds"],
        "claims_per_second": summary["claims_per_second"],
        "verifier": summary["verifier"],
        "documents": summary["corpus"]["documents"],
        "misses": _misses(audits, conversations, load_labels(labels_path)),
    }


def _misses(audits: list[Any], conversations: list[Any], labels: dict[str, Any]) -> list[str]:
    """Ids of planted errors not detected and of clean answers flagged, so a reader of the
    JSON can find them in the world's files."""
    one = {a.item_id: a for a in audits}
    missed = []
    for conversation in conversations:
        label, audit = labels[conversation.id], one[conversation.id]
        turns = {f.turn for f in audit.errors}
        if label["planted"]:
            message = conversation.messages[label["turn"]].content
            if not any(
                f.turn == label["turn"]
                and (
                    label["wrong_text"] in message[f.start : f.end]
                    or message[f.start : f.end] in label["wrong_text"]
                )
                for f in audit.errors
            ):
                missed.append(f"missed {label['error_class']}: {conversation.id}")
            turns.discard(label["turn"])
        if turns:
            missed.append(f"false positive: {conversation.id} turn(s) {sorted(turns)}")
    return missed


def pooled(worlds: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Figures of several worlds together: counts added, then rates."""
    if not worlds:
        return None
    planted = {c: sum(w["planted"].get(c, 0) for w in worlds) for c in CLASSES}
    detected = {c: sum(w["detected"].get(c, 0) for w in worlds) for c in CLASSES}
    totals = {k: sum(w[k] for w in worlds) for k in TOTALS}
    seconds = sum(w["seconds"] for w in worlds)
    return {
        "worlds": len(worlds),
        "planted": planted,
        "detected": detected,
        "recall_by_class": {c: round(detected[c] / planted[c], 4) for c in CLASSES if planted[c]},
        "recall_all": round(sum(detected.values()) / max(sum(planted.values()), 1), 4),
        **totals,
        "false_positive_rate": round(
            totals["false_positives"] / max(totals["clean_answers"], 1), 4
        ),
        "claims_per_second": round(totals["claims"] / seconds, 1) if seconds else None,
    }


def git_commit() -> tuple[str, bool]:
    """HEAD and whether the work tree is clean (a dirty tree scores code no commit holds)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return head.stdout.strip(), not status.stdout.strip()


def merge(
    previous: dict[str, Any], scored: dict[str, dict[str, Any]], command: str
) -> dict[str, Any]:
    """The new results file: this run's worlds replace their old entries; a sealed world keeps
    the commit that first scored it, and the history of retired sealed worlds is kept as is."""
    commit, clean = git_commit()
    per_world = dict(previous.get("per_world", {}))
    for world, figures in scored.items():
        figures = figures | {"scored_commit": commit, "scored_tree_clean": clean}
        if is_sealed(world):
            first = per_world.get(world, {}).get("first_scored_commit")
            figures["first_scored_commit"] = first or commit
        per_world[world] = figures
    sealed_names = sorted(w for w in per_world if is_sealed(w))
    sealed = pooled([per_world[w] for w in sealed_names])
    firsts = [per_world[w]["first_scored_commit"] for w in sealed_names]
    old_first = previous.get("sealed", {}).get("first_scored_commit")
    dev = pooled([per_world[w] for w in DEV_WORLDS if w in per_world])
    sample = pooled([per_world[w] for w in SAMPLE_WORLDS if w in per_world])
    this_run = pooled(list(scored.values()))
    load = os.getloadavg()
    return {
        "sealed": (
            sealed or {"status": "not scored yet (python benchmarks/audit_worlds.py --sealed)"}
        )
        | {
            "worlds_scored": sealed_names,
            "recall_by_class": sealed["recall_by_class"] if sealed else None,
            "false_positive_rate": sealed["false_positive_rate"] if sealed else None,
            # The earliest commit any sealed world was scored at: figures from later commits
            # are still figures on data the code was not tuned to only if no one tuned on them.
            "first_scored_commit": old_first or (_earliest(firsts) if firsts else None),
        },
        "dev": dev,
        "sample": sample,
        **({"retired_sealed": previous["retired_sealed"]} if "retired_sealed" in previous else {}),
        "per_world": dict(sorted(per_world.items())),
        "claims_per_second": this_run["claims_per_second"] if this_run else None,
        "claims_per_second_worlds": sorted(scored),
        "host_load_average_1min_at_end": round(load[0], 2),
        "host_cpus": os.cpu_count(),
        "hardware": f"{platform.machine()} CPU, torch threads 1",
        "command": command,
    }


def _earliest(commits: list[str]) -> str:
    """The commit that is an ancestor of the others (the first one scored)."""
    for candidate in commits:
        if all(
            subprocess.run(
                ["git", "merge-base", "--is-ancestor", candidate, other], cwd=REPO
            ).returncode
            == 0
            for other in commits
        ):
            return candidate
    return commits[0]


def choose_worlds(names: list[str], sealed: bool) -> list[str]:
    if any(is_sealed(n) for n in names) and not sealed:
        raise SystemExit("sealed worlds are scored only with --sealed (they are scored once)")
    if names:
        return names
    return [*DEV_WORLDS, *SAMPLE_WORLDS, *(sealed_world_names() if sealed else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="*", help="world names (default: dev worlds + sample)")
    parser.add_argument("--sealed", action="store_true", help="also score the sealed worlds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=None, help="keep the audit outputs here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "services" / "auditor"))
    worlds = choose_worlds(args.worlds, args.sealed)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        scored = {}
        for world in worlds:
            scored[world] = score_world(world, work)
            figures = scored[world]
            print(
                world,
                json.dumps(
                    {
                        k: figures[k]
                        for k in (
                            "detected",
                            "planted",
                            "false_positives",
                            "clean_answers",
                            "claims_per_second",
                        )
                    }
                ),
                flush=True,
            )
    command = "python benchmarks/audit_worlds.py" + (" --sealed" if args.sealed else "")
    command += "".join(f" {w}" for w in args.worlds)
    result = merge(previous, scored, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("sealed", "dev", "sample", "claims_per_second")}, indent=2
        )
    )


if __name__ == "__main__":
    main()
