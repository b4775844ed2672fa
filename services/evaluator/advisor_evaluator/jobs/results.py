"""Where one evaluation's results live in the object store, under deterministic keys.

Every work unit writes exactly one object whose key is derived from (job, stage, candidate, item,
order), write-once. A unit that runs again — a redelivered message, a re-driven job — finds its
object and does nothing, so a re-run never duplicates a result (docs/reliability.md, F3).

    evaluations/<job>/request.json                      the full request (write-once)
    evaluations/<job>/plan.json                         items after hygiene, candidates (write-once)
    evaluations/<job>/generations/<cand>/<item>.json
    evaluations/<job>/scores/<cand>/<chunk>.json             per-item figures of up to 32 items
    evaluations/<job>/judgements/<cand>/<item>/<order>.json
    evaluations/<job>/factuality/<cand>.json
    evaluations/<job>/failures/<unit>.json              a unit that cannot succeed
    evaluations/<job>/report/{report.json, report.md, *.png}
"""

from __future__ import annotations

import json
from typing import Any

from advisor_shared.errors import ObjectExistsError, ObjectNotFoundError
from advisor_shared.store import ObjectStore, validate_key

REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"


class JobResults:
    """Read and write one job's result objects."""

    def __init__(self, store: ObjectStore, job_id: str):
        self.store = store
        self.job_id = job_id
        self.prefix = validate_key(f"evaluations/{job_id}") + "/"

    def key(self, *parts: str) -> str:
        return validate_key(self.prefix + "/".join(parts))

    def put_once(self, relative: str, value: Any) -> bool:
        """Write JSON at `relative` unless it exists; True when this call wrote it."""
        try:
            self.store.put_bytes(self.key(relative), _dumps(value))
        except ObjectExistsError:
            return False
        return True

    def put(self, relative: str, value: Any) -> None:
        self.store.put_bytes(self.key(relative), _dumps(value), overwrite=True)

    def get(self, relative: str) -> Any:
        return json.loads(self.store.get_bytes(self.key(relative)))

    def get_or_none(self, relative: str) -> Any | None:
        try:
            return self.get(relative)
        except ObjectNotFoundError:
            return None

    def exists(self, relative: str) -> bool:
        return self.store.exists(self.key(relative))

    def list(self, relative_prefix: str) -> list[str]:
        """Keys under a folder, relative to the job's prefix."""
        return [k[len(self.prefix) :] for k in self.store.list(self.prefix + relative_prefix)]

    def put_artifact(self, name: str, data: bytes) -> None:
        """A report file; overwriting is allowed because reports are derived, not results."""
        self.store.put_bytes(self.key("report", name), data, overwrite=True)

    def get_artifact(self, name: str) -> bytes:
        return self.store.get_bytes(self.key("report", name))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")


# Relative keys of the per-unit results.
def generation_key(candidate: str, item: str) -> str:
    return f"generations/{candidate}/{item}.json"


def score_key(candidate: str, chunk: str) -> str:
    return f"scores/{candidate}/{chunk}.json"


def judgement_key(candidate: str, item: str, order: str) -> str:
    return f"judgements/{candidate}/{item}/{order}.json"


def factuality_key(candidate: str) -> str:
    return f"factuality/{candidate}.json"


def failure_key(unit_name: str) -> str:
    return f"failures/{unit_name}.json"
