"""Bearer API keys, checked in constant time, on every route that is not explicitly public."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import Request
from pydantic import SecretStr

from .errors import ApiError


class ApiKeyChecker:
    """A FastAPI dependency: `dependencies=[Depends(ApiKeyChecker(keys))]` on a router."""

    def __init__(self, keys: Sequence[SecretStr | str]):
        self._keys = [
            (k.get_secret_value() if isinstance(k, SecretStr) else k).encode() for k in keys
        ]

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401, "missing API key: send `Authorization: Bearer <key>`", code="missing_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        presented = token.strip().encode()
        if not any(hmac.compare_digest(presented, key) for key in self._keys):
            raise ApiError(401, "invalid API key", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
