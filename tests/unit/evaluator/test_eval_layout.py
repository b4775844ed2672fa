"""The evaluator's domain packages never reach up into the job shell.

Nothing under generation/, judging/, scoring/ or reporting/ imports jobs/, the API, the entry
points, the object or job store, the queue, leases or Celery: a domain module takes plain values
(and an endpoint object) and returns values, and jobs/ reads the store, calls it and writes the
outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

import advisor_evaluator
from tests.import_layout import imported_names, matching, module_name, modules_under

pytestmark = pytest.mark.unit

PACKAGE = Path(advisor_evaluator.__file__).parent
DOMAIN_PACKAGES = ("generation", "judging", "scoring", "reporting")
FORBIDDEN = (
    "advisor_evaluator.jobs",
    "advisor_evaluator.api",
    "advisor_evaluator.main",
    "advisor_evaluator.worker",
    "advisor_evaluator.cli",
    "advisor_shared.store",
    "advisor_shared.jobs",
    "advisor_shared.queue",
    "advisor_shared.lease",
    "celery",
    "kombu",
    "redis",
)


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    return matching(imported_names(source, module, is_package), FORBIDDEN)


def domain_modules() -> list[Path]:
    return modules_under(PACKAGE, DOMAIN_PACKAGES)


def dotted(path: Path) -> str:
    return module_name(PACKAGE, path)


@pytest.mark.parametrize("path", domain_modules(), ids=dotted)
def test_domain_module_imports_nothing_of_the_job_shell(path: Path) -> None:
    bad = forbidden_imports(path.read_text(), dotted(path), path.name == "__init__.py")
    assert not bad, f"{dotted(path)} imports {bad}: move that part into jobs/"


def test_every_domain_package_has_modules_to_check() -> None:
    for name in DOMAIN_PACKAGES:
        assert len(list((PACKAGE / name).glob("*.py"))) > 1, f"{name}/ has no modules"


@pytest.mark.parametrize(
    "line",
    [
        "from ..jobs.runtime import Runtime",
        "from ..jobs import results",
        "from .. import jobs",
        "from advisor_evaluator.jobs.results import JobResults",
        "import advisor_shared.store",
        "from advisor_shared.store import ObjectStore",
        "from celery import Celery",
        "from ..api.samples import sample_page",
    ],
)
def test_the_check_catches_an_import_of_the_shell(line: str) -> None:
    assert forbidden_imports(line, "advisor_evaluator.judging.judge")


def test_the_check_lets_domain_and_shared_imports_through() -> None:
    source = (
        "from ..errors import EndpointRejected\n"
        "from ..generation.chat_endpoint import ChatEndpoint\n"
        "from .parsing import Verdict\n"
        "from advisor_shared.statistics import Z_95\n"
    )
    assert forbidden_imports(source, "advisor_evaluator.judging.judge") == []
