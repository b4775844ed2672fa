"""Errors the auditor raises for bad input; each message names the file and what is wrong."""

from advisor_shared.errors import AdvisorError


class CorpusError(AdvisorError):
    """The source corpus is missing, empty, or holds a document that cannot be read."""


class AuditInputError(AdvisorError):
    """A dataset or answers file cannot be audited (e.g. a line without assistant text)."""
