"""Bearer API keys, checked in constant time, on every route that is not explicitly public.

Two scopes: app keys chat and submit jobs; admin keys (`ADVISOR_ADMIN_API_KEYS`) may also change
what is served or spend the GPU (load/unload adapters, start training). The checker leaves on the
request which scope the key has and an owner id for it (`key-<sha256 prefix>`, never the key),
which job records and per-key quotas use."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from fastapi import Request
from pydantic import SecretStr

from .errors import ApiError


def key_owner(key: bytes) -> str:
    """A stable, non-reversible id of a key: job records and logs name it, never the key."""
    return "key-" + hashlib.sha256(key).hexdigest()[:16]


def _raw(keys: Sequence[SecretStr | str]) -> list[bytes]:
    return [(k.get_secret_value() if isinstance(k, SecretStr) else k).encode() for k in keys]


class ApiKeyChecker:
    """A FastAPI dependency: `dependencies=[Depends(ApiKeyChecker(keys, admin_keys))]` on a
    router; `require_admin` on the routes that need an admin key."""

    def __init__(self, keys: Sequence[SecretStr | str], admin_keys: Sequence[SecretStr | str] = ()):
        self._keys, self._admin_keys = _raw(keys), _raw(admin_keys)

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "missing API key: send `Authorization: Bearer <key>`",
                code="missing_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        presented = token.strip().encode()
        # Every key is compared (no early exit), so timing says nothing about which matched.
        admin = sum(hmac.compare_digest(presented, key) for key in self._admin_keys) > 0
        app = sum(hmac.compare_digest(presented, key) for key in self._keys) > 0
        if not (admin or app):
            raise ApiError(
                401,
                "invalid API key",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.key_scope = "admin" if admin else "app"
        request.state.key_owner = key_owner(presented)


def require_admin(request: Request) -> None:
    """After `ApiKeyChecker`: refuse an app key with 403 (it is valid, but not for this)."""
    if getattr(request.state, "key_scope", None) != "admin":
        raise ApiError(
            403,
            "this operation needs an admin key (ADVISOR_ADMIN_API_KEYS)",
            code="admin_key_required",
        )


def request_owner(request: Request) -> str | None:
    """The owner id `ApiKeyChecker` left on the request (None on public routes)."""
    return getattr(request.state, "key_owner", None)
