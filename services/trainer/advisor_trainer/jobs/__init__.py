"""The training jobs' shell: recording, running and cancelling a job (`training.py`), its typed
request and result (`payloads.py`), the runtime (`runtime.py`), the task (`tasks.py`) and the
worker that runs it (`worker.py`)."""
