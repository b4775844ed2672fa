"""The evaluator's worker app with the Redis visibility timeout scaled down (X3): Redis hands a
task still running on one worker to another after `ADVISOR_TEST_VISIBILITY_TIMEOUT_S` seconds.

    celery -A tests.chaos.short_visibility_evaluator worker ...
"""

from __future__ import annotations

import os

from advisor_evaluator.worker import app

app.conf.broker_transport_options = {
    "visibility_timeout": float(os.environ.get("ADVISOR_TEST_VISIBILITY_TIMEOUT_S", "3"))
}
