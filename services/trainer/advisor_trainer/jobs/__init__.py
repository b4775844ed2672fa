"""The training jobs' queue side: the runtime (`runtime.py`), the task (`tasks.py`) and the
worker that runs it (`worker.py`). The run itself is `training_jobs.run_training_job`."""
