"""Cancel a non-streamed generation when its client goes away.

A stream notices a disconnect when it next writes; a non-streamed request writes only at the
end, so without this an abandoned `max_tokens: 3000` request keeps generating for minutes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")
# How often the connection is looked at; a generation outlives its client by at most this.
POLL_S = 0.25


class ClientGone(Exception):  # noqa: N818
    """The client disconnected before the answer was ready; the work was cancelled."""


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`; cancel it and raise `ClientGone` if the client disconnects first."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise ClientGone
    except asyncio.CancelledError:
        task.cancel()  # the server shuts down or the handler is cancelled: so is the work
        raise
