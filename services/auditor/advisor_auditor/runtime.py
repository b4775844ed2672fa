"""What the API and the worker share in one process: the kit's runtime (settings, the object
store, job records, Redis when configured) and the progress signs of the auditor's jobs."""

from __future__ import annotations

from dataclasses import dataclass

from advisor_shared.worker import Liveness
from advisor_shared.worker import Runtime as JobRuntime

from .core.config import Settings

# The queue the auditor's tasks go to and its workers consume.
QUEUE = "auditor"
# An audit with no sign of progress for this long (a chunk refreshes it while it runs) is
# re-driven by the reconciler's backstop.
STALE_AFTER_S = 300.0
LIVENESS = Liveness("auditor", QUEUE, STALE_AFTER_S)


@dataclass
class Runtime(JobRuntime[Settings]):
    @property
    def liveness(self) -> Liveness:
        return LIVENESS
