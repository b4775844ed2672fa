"""Copy what the console shows of a real `advisor demo` run's store into a test fixture:

    python -m tests.console.snapshot_demo var/demo/store tests/fixtures/demo_store

Kept: the job records, the evaluation's results and report, the audits' outputs and the
bundles' manifests, ledgers and LoRA configs. Left out, to keep the fixture small: adapter
weights (the console never reads them), audit chunks and inputs, the gate's clean set, and
of the training-data findings all but the contradicted ones (the only ones the console lists;
the audit's summary keeps every count)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

KEEP_BUNDLE_FILES = {
    "manifest.json",
    "trainer_state.json",
    "adapter_config.json",
    "chat_template.jinja",
}
SKIP_AUDIT_FILES = {"clean.jsonl", "plan.json"}


def wanted(relative: Path) -> bool:
    parts = relative.parts
    if parts[0] == "jobs":
        return parts[1] in ("evaluation", "audit", "training")
    if parts[0] == "evaluations":
        return True
    if parts[0] == "audits":
        return parts[1] != "inputs" and "chunks" not in parts and parts[-1] not in SKIP_AUDIT_FILES
    if parts[0] == "adapters":
        return parts[-1] in KEEP_BUNDLE_FILES
    return False


def snapshot(source: Path, target: Path) -> int:
    if target.exists():
        shutil.rmtree(target)
    copied = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or path.name.startswith(".tmp-") or not wanted(relative):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if relative.parts[0] == "audits" and relative.name == "findings.jsonl":
            lines = [
                line
                for line in path.read_text().splitlines()
                if line.strip() and json.loads(line).get("verdict") == "contradicted"
            ]
            destination.write_text("".join(line + "\n" for line in lines))
        else:
            shutil.copyfile(path, destination)
        copied += 1
    return copied


if __name__ == "__main__":
    count = snapshot(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{count} objects copied to {sys.argv[2]}")
