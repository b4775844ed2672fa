"""Errors the shared library raises for bad input. Each message names what is wrong."""


class AdvisorError(Exception):
    """Base class for errors a user can act on (bad input, refused artifacts)."""


class StoreError(AdvisorError):
    """The object store refused an operation (missing key, overwrite, bad key)."""


class ObjectExistsError(StoreError):
    """A write would overwrite an existing object; stored objects are write-once."""


class ObjectNotFoundError(StoreError):
    """The requested object does not exist."""


class BundleError(AdvisorError):
    """An adapter bundle is missing, incomplete, corrupt or hostile."""


class InvalidNameError(AdvisorError):
    """A name (adapter, job, version) does not match the strict pattern."""


class DatasetError(AdvisorError):
    """A dataset file has invalid lines; `problems` lists `file:line: reason`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} invalid dataset line(s):\n{shown}{more}")


class ModelResolutionError(AdvisorError):
    """A base model or encoder could not be resolved offline."""


class SettingsError(AdvisorError):
    """Settings are unsafe or inconsistent (e.g. a placeholder secret outside development)."""
