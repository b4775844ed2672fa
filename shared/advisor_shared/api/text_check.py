"""Refuse JSON bodies whose strings are not valid Unicode text (lone surrogates such as
`"a\\ud800b"`) with a 400, before any route sees them.

JSON lets a body escape a lone surrogate and Python decodes it into a `str` that cannot be
encoded: the tokenizer, the job store and response serialisation then fail deep inside with a
500. One check at the edge covers every field of every service."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

# Only a body that escapes a surrogate code point can decode to one; others skip the parse.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def first_bad_text(value: Any, path: str = "") -> str | None:
    """The location (`messages.0.content`) of the first string that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = first_bad_text(key, where) or first_bad_text(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_bad_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class InvalidTextCheck:
    """ASGI middleware: buffer a JSON body that escapes a surrogate, parse it, answer 400 naming
    the field if a string in it is not valid Unicode; otherwise replay it unchanged."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if scope["type"] != "http" or b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _SURROGATE_ESCAPE.search(body):
            try:
                where = first_bad_text(json.loads(body))
            except ValueError:
                where = None  # not JSON: the route's own parsing answers that
            if where is not None:
                await _reject(send, where)
                return
        await self.app(scope, _replay([body], None, receive), send)


def _replay(bodies: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    queue: list[Message] = [{"type": "http.request", "body": b, "more_body": False} for b in bodies]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()  # later calls: the client's disconnect, as before

    return replay


async def _reject(send: Send, where: str) -> None:
    message = f"{where[:120]}: the text is not valid Unicode (a lone surrogate escape)"
    body = json.dumps(error_body(400, message, param=where[:120], code="invalid_text")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
