"""The job services as the console sees them: their public HTTP APIs, called with the
signed-in user's key, so the console can show and do exactly what that key may.

A service that is not configured, does not answer or refuses is reported with one short
sentence the page shows in place of its part; nothing else of the page depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

Kind = Literal["evaluation", "audit", "training"]


@dataclass(frozen=True)
class KindInfo:
    kind: Kind
    service: str  # the service's name in messages
    path: str  # its jobs collection
    label: str  # how the page names one job


KINDS: dict[Kind, KindInfo] = {
    "evaluation": KindInfo("evaluation", "evaluator", "/v1/evaluations", "evaluation"),
    "audit": KindInfo("audit", "auditor", "/v1/audits", "audit"),
    "training": KindInfo("training", "trainer", "/v1/training-jobs", "training job"),
}


class BackendError(Exception):
    """A job service could not give what was asked; `message` is safe to show."""

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class Backends:
    """Base URLs of the job services (None: not configured) and the call timeout."""

    evaluator: str | None
    auditor: str | None
    trainer: str | None
    timeout_s: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None  # tests route calls in-process

    def base_url(self, kind: Kind) -> str | None:
        return {"evaluation": self.evaluator, "audit": self.auditor, "training": self.trainer}[kind]

    async def call(
        self,
        kind: Kind,
        method: str,
        path: str,
        key: str,
        *,
        params: Any = None,
        raw: bool = False,
    ) -> Any:
        """`method path` on the service owning `kind`; JSON (or bytes with `raw`)."""
        info = KINDS[kind]
        base = self.base_url(kind)
        if base is None:
            raise BackendError(
                f"the {info.service} is not configured (ADVISOR_{info.service.upper()}_URL)",
                status=503,
            )
        try:
            async with httpx.AsyncClient(
                base_url=base.rstrip("/"),
                timeout=self.timeout_s,
                transport=self.transport,
                headers={"Authorization": f"Bearer {key}"},
            ) as client:
                response = await client.request(method, path, params=params)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"the {info.service} does not answer ({type(exc).__name__})", status=503
            ) from None
        if response.status_code >= 400:
            raise BackendError(_error_message(info, response), status=response.status_code)
        return response.content if raw else response.json()


def _error_message(info: KindInfo, response: httpx.Response) -> str:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}"
    return f"{info.service}: {message[:300]}"
