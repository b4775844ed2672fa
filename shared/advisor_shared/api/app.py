"""Middleware shared by every service: request ids, a request-size limit (413) and the answer
to a request cancelled at shutdown (503)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TypedDict

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body, install_error_handlers
from .text_check import InvalidTextCheck

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    """Refuse bodies above `max_bytes` with 413, by Content-Length or while streaming, so an
    oversized upload is never buffered whole (docs/reliability.md, F11)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body(413, f"request body exceeds {self.max_bytes} bytes", code="body_too_large")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(BaseException):  # noqa: N818
    """Not an `Exception`: FastAPI turns any `Exception` raised while it reads the body into a
    400, so a streamed (chunked) oversized body would never reach the 413 below."""


class ShutdownAnswer:
    """A request the server cancels at its graceful-shutdown bound (uvicorn's
    `--timeout-graceful-shutdown`; uvicorn cancels request tasks for nothing else) gets
    503 `shutting_down` with Retry-After and `connection: close`, not uvicorn's bare 500, so its
    client retries on another replica. The handler's own cancellation has already stopped its
    work (the gateway's generation: `until_disconnected`); the cancellation goes on up."""

    RETRY_AFTER_S = 2

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if not response_started:
                body = json.dumps(
                    error_body(503, "the server is shutting down; retry", code="shutting_down")
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(self.RETRY_AFTER_S).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise


class RequestId:
    """Give every request an id (`X-Request-ID`, echoed or generated) for logs and 500s."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, with_header)


def install_common(app: FastAPI, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Error handlers, the text check, the body-size limit, the shutdown answer and request ids,
    in that order of wrapping (the text check reads only what the size limit let through)."""
    install_error_handlers(app)
    app.add_middleware(InvalidTextCheck)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(ShutdownAnswer)
    app.add_middleware(RequestId)


class DocsRoutes(TypedDict):
    """The keyword arguments of `FastAPI` that place (or, with None, remove) the docs routes."""

    openapi_url: str | None
    docs_url: str | None
    redoc_url: str | None


def docs_routes(environment: str) -> DocsRoutes:
    """`FastAPI(**docs_routes(settings.environment))`: the OpenAPI schema and the docs pages are
    unauthenticated routes, so they exist in development only (docs/reliability.md, F9)."""
    development = environment == "development"
    return {
        "openapi_url": "/openapi.json" if development else None,
        "docs_url": "/docs" if development else None,
        "redoc_url": "/redoc" if development else None,
    }
