"""The evaluator's worker app on a scaled-down time model of Redis redelivery (X3).

In production the visibility timeout is 13 h (advisor_shared.queue) and kombu looks for overdue
un-acked messages every `unacked_restore_interval` (10 s) x `unacked_restore_throttle` (10) =
about 100 s. Here both shrink together so that a task still running on one worker is handed to
another within seconds: the visibility timeout becomes `ADVISOR_TEST_VISIBILITY_TIMEOUT_S`
(default 3 s) and the overdue scan runs every second.

    celery -A tests.chaos.short_visibility_evaluator worker ...
"""

from __future__ import annotations

import os

from advisor_evaluator.worker import app

app.conf.broker_transport_options = {
    "visibility_timeout": float(os.environ.get("ADVISOR_TEST_VISIBILITY_TIMEOUT_S", "3")),
    # Scan for overdue messages on every 1 s tick, not on every tenth 10 s tick.
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
