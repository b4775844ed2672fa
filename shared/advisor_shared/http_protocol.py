"""uvicorn's h11 protocol with a read deadline, so a slow client cannot hold a socket forever.

uvicorn times out idle keep-alive connections (`--timeout-keep-alive`) but nothing else: h11 has
no header-read timeout, and a client that opens a connection and sends nothing, part of its
headers, or part of a declared body keeps its socket (and the app's `receive()`) for as long as
it likes (issue 17, finding 3). Here each request must arrive whole, headers and body, within
`ADVISOR_REQUEST_READ_TIMEOUT_S` of its first byte (of the connection, for the first request);
a connection that misses it gets `408 Request Timeout` when no request was read yet, and is
closed. The clock stops once the request is read, so slow handlers and long streams are not
affected, and between requests uvicorn's keep-alive timeout applies as before.

Every HTTP service runs with it: `uvicorn --factory advisor_<name>.main:create_app
--http advisor_shared.http_protocol:ReadDeadlineProtocol`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import AdvisorSettings

log = logging.getLogger("uvicorn.error")
_BODY = b"the request did not arrive in time\n"
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


@functools.cache
def read_timeout_s() -> float:
    """The deadline, read once per process from the settings every service shares."""
    return AdvisorSettings().request_read_timeout_s


class ReadDeadlineProtocol(H11Protocol):
    """`H11Protocol` that closes a connection whose request is not read within the deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s = read_timeout_s()
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start reading a pipelined request
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _reading(self) -> bool:
        """Whether a request is being read: its body, or headers begun (or awaited on a new
        connection, where uvicorn arms no keep-alive timer)."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            return True
        if state is not h11.IDLE:
            return False
        buffered = bool(self.conn.trailing_data[0])
        return buffered or self.timeout_keep_alive_task is None

    def _track(self) -> None:
        if self.transport is None or self.transport.is_closing():
            self._disarm()
        elif not self._reading():
            self._disarm()
        elif self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _expired(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing() or not self._reading():
            return
        log.warning(
            "%s:%s - closing a connection whose request did not arrive within %.0f s",
            *(self.client or ("?", "?")),
            self.read_timeout_s,
        )
        if self.conn.their_state is h11.IDLE:  # no request read: nobody else answers it
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()
