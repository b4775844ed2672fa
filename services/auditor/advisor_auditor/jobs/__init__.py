"""The audit jobs' shell: the steps of a job (`audit.py`: plan, chunk, finalize) and its
cancellation (`cancellation.py`), its typed request, plan and result (`payloads.py`), the tasks
that call them (`tasks.py`) and the worker that runs them (`worker.py`)."""
