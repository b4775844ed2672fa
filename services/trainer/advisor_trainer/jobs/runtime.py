"""What the trainer's API and worker share in one process: the kit's runtime (settings, the
object store, job records, Redis when configured) and the progress signs of training jobs."""

from __future__ import annotations

from dataclasses import dataclass

from advisor_shared.worker import Liveness
from advisor_shared.worker import Runtime as JobRuntime

from ..core.config import Settings

# The long queue: one task per worker, a lease per job id (docs/reliability.md, F1).
QUEUE = "trainer-long"
# A running job refreshes its heartbeat every third of this; a dead worker's run is found far
# sooner, by its lease (`Liveness.running`). A queued job can wait hours behind another on the
# long queue: it is re-driven (a no-op copy of its message) at most once per period.
STALE_AFTER_S = 1800.0
LIVENESS = Liveness("trainer", QUEUE, STALE_AFTER_S)


@dataclass
class Runtime(JobRuntime[Settings]):
    @property
    def liveness(self) -> Liveness:
        return LIVENESS

    def train_lease_name(self, job_id: str) -> str:
        """The lease a run holds for its whole length (a second start finds it held)."""
        return f"train:{job_id}"
