"""FastAPI building blocks every service reuses: errors, API keys, size limits, request ids."""

from .app import install_common
from .auth import ApiKeyChecker, request_owner, require_admin
from .errors import ApiError, error_body

__all__ = [
    "ApiError",
    "ApiKeyChecker",
    "error_body",
    "install_common",
    "request_owner",
    "require_admin",
]
