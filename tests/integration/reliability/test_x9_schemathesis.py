"""docs/reliability.md, X9: schemathesis against every service's OpenAPI, in-process (ASGI), with
and without a key. Figures: 5xx answers (0) and responses that break their documented schema (0).

`make test` runs 200 examples per operation (about 40 s for the four services, with and without a
key, on two cores); `pytest -m slow` runs 1000 (ADVISOR_FUZZ_EXAMPLES overrides either)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from .services import APPS, KEY, figure, openai_stub

pytestmark = pytest.mark.integration
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
ROOT = Path(tempfile.mkdtemp(prefix="advisor-fuzz-"))


def _fuzz(service: str, examples: int, with_key: bool) -> int:
    """Run every operation of `service` for `examples` examples; the calls made."""
    with openai_stub() as inference:
        extra = {"inference_url": inference} if service == "evaluator" else {}
        app = APPS[service](ROOT / f"{service}-{with_key}", **extra)
        schema = schemathesis.openapi.from_dict(app.openapi())
        headers = {"Authorization": f"Bearer {KEY}"} if with_key else {}
        calls = 0
        operations = [op.ok() for op in schema.get_all_operations()]
        assert operations, f"{service} documents no operation"
        for operation in operations:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case) -> None:  # type: ignore[no-untyped-def]
                nonlocal calls
                calls += 1
                case.call_and_validate(app=app, headers=headers, checks=CHECKS)

            check()
        return calls


def _examples(default: int) -> int:
    return int(os.environ.get("ADVISOR_FUZZ_EXAMPLES", default))


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize("service", sorted(APPS))
def test_x9_fuzz_finds_no_5xx_and_no_schema_violation(service: str, with_key: bool) -> None:
    examples = _examples(200)
    calls = _fuzz(service, examples, with_key)
    figure(
        f"X9 fuzz {service} ({'key' if with_key else 'no key'})",
        f"{calls} calls ({examples} examples per operation), 0 5xx, 0 schema violations",
        runs=calls,
        faults=calls,
        ok=calls > 0,
    )
    assert calls > 0


@pytest.mark.slow
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize("service", sorted(APPS))
def test_x9_fuzz_1000_examples_per_operation(service: str, with_key: bool) -> None:
    examples = _examples(1000)
    calls = _fuzz(service, examples, with_key)
    figure(
        f"X9 fuzz-{examples} {service} ({'key' if with_key else 'no key'})",
        f"{calls} calls ({examples} examples per operation), 0 5xx, 0 schema violations",
        runs=calls,
        faults=calls,
        ok=calls > 0,
    )
    assert calls > 0
