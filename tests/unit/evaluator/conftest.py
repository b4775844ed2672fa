"""Fixtures of the evaluator's unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluator_fakes import KEY, FakeEndpoint

from advisor_evaluator.core.config import Settings
from advisor_evaluator.jobs.runtime import Runtime
from advisor_shared.jobs import JobStore
from advisor_shared.store import LocalStore


@pytest.fixture
def make_runtime(tmp_path: Path):
    """A runtime on a local store whose inference API (and judge) is `endpoint`."""

    def build(
        endpoint: FakeEndpoint, judge_endpoint: FakeEndpoint | None = None, **settings
    ) -> Runtime:
        # One worker thread: with instant fake endpoints more threads only slow the shutdown.
        options = {
            "store_url": f"file://{tmp_path}/store",
            "api_keys": KEY,
            "inprocess_concurrency": 1,
            **settings,
        }
        config = Settings(**options)
        store = LocalStore(tmp_path / "store")

        def factory(base_url: str, api_key: str | None, timeout: float):
            if judge_endpoint is not None and base_url != config.inference_url:
                return judge_endpoint
            return endpoint

        return Runtime(config, store, JobStore(store), None, factory)

    return build
