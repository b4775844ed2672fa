"""The audit jobs' queue side: the tasks (`tasks.py`) and the worker that runs them
(`worker.py`). The steps they call live in `audit_jobs.py` and `cancellation.py`."""
