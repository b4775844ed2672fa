"""The trainer's domain packages never reach up into the job shell.

Nothing under training/, data/, checkpoints/, hardware/ or backends/, nor the job config and
errors they share, imports the job shell (worker, main, api, cli, jobs/), the
service settings, the request checks and wire models of the API, the job store, the queue,
leases, the worker kit, Celery or Redis: the domain takes a `TrainingJobConfig` and plain
values, and the shell submits, records and runs it.

One exception is listed, not hidden: the session writes a bundle into the object store at every
handoff point and resumes from one, so the modules on that path take an `ObjectStore`
(`STORE_USERS`). The list may only shrink: a module that stops needing the store must leave it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import advisor_trainer
from tests.import_layout import imported_names, matching, module_name, modules_under

pytestmark = pytest.mark.unit

PACKAGE = Path(advisor_trainer.__file__).parent
DOMAIN_PACKAGES = ("training", "data", "checkpoints", "hardware", "backends")
DOMAIN_LEAVES = ("config.py", "errors.py")  # imported by every domain package, so held to it too
FORBIDDEN = (
    "advisor_trainer.worker",
    "advisor_trainer.main",
    "advisor_trainer.api",
    "advisor_trainer.cli",
    "advisor_trainer.jobs",
    "advisor_trainer.core",
    "advisor_trainer.stores",
    "advisor_trainer.request_limits",
    "advisor_trainer.schemas",
    "advisor_trainer.loss_history",
    "advisor_shared.api",
    "advisor_shared.store",
    "advisor_shared.jobs",
    "advisor_shared.queue",
    "advisor_shared.lease",
    "advisor_shared.worker",
    "celery",
    "kombu",
    "redis",
)
STORE = "advisor_shared.store"
# The bundle path: writing a bundle at each handoff point, and reading the one to resume from.
STORE_USERS = (
    "advisor_trainer.checkpoints.export",
    "advisor_trainer.checkpoints.resume",
    "advisor_trainer.checkpoints.writer",
    "advisor_trainer.training.preparation",
    "advisor_trainer.training.session",
)


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    bad = matching(imported_names(source, module, is_package), FORBIDDEN)
    if module in STORE_USERS:
        bad = [name for name in bad if name not in matching(bad, (STORE,))]
    return bad


def domain_modules() -> list[Path]:
    return modules_under(PACKAGE, DOMAIN_PACKAGES) + [PACKAGE / leaf for leaf in DOMAIN_LEAVES]


def dotted(path: Path) -> str:
    return module_name(PACKAGE, path)


@pytest.mark.parametrize("path", domain_modules(), ids=dotted)
def test_domain_module_imports_nothing_of_the_job_shell(path: Path) -> None:
    bad = forbidden_imports(path.read_text(), dotted(path), path.name == "__init__.py")
    assert not bad, f"{dotted(path)} imports {bad}: move that part into the job shell"


@pytest.mark.parametrize("module", STORE_USERS)
def test_a_listed_store_user_still_needs_the_store(module: str) -> None:
    path = PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")
    assert matching(imported_names(path.read_text(), module), (STORE,)), (
        f"{module} no longer imports the store: take it off STORE_USERS"
    )


def test_every_domain_package_has_modules_to_check() -> None:
    for name in DOMAIN_PACKAGES:
        assert len(list((PACKAGE / name).glob("*.py"))) > 1, f"{name}/ has no modules"


@pytest.mark.parametrize(
    "line",
    [
        "from ..jobs.training import run_training_job",
        "from .. import worker",
        "from ..api.deps import JobsDep",
        "from ..core.config import Settings",
        "from ..stores import store_for",
        "from advisor_trainer.jobs.runtime import Runtime",
        "import advisor_shared.store",
        "from advisor_shared.store import ObjectStore",
        "from advisor_shared.jobs import JobStore",
        "from advisor_shared.worker import make_worker",
        "from redis import Redis",
    ],
)
def test_the_check_catches_an_import_of_the_shell(line: str) -> None:
    assert forbidden_imports(line, "advisor_trainer.data.packing")


def test_the_check_lets_domain_and_shared_imports_through() -> None:
    source = (
        "from ..errors import TrainingDataError\n"
        "from ..config import TrainingJobConfig\n"
        "from ..hardware.device import DeviceInfo\n"
        "from . import resume\n"
        "from .ledger import HandoffLedger\n"
        "from advisor_shared.bundle import BundleRef\n"
    )
    assert forbidden_imports(source, "advisor_trainer.checkpoints.writer") == []


def test_a_listed_store_user_may_import_the_store_and_nothing_else_of_the_shell() -> None:
    module = "advisor_trainer.training.session"
    assert forbidden_imports("from advisor_shared.store import ObjectStore", module) == []
    assert forbidden_imports("from ..jobs.training import JobProgress", module)
