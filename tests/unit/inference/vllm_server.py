"""The recorded vLLM contract (`MockVllm`) served over real HTTP on a loopback port, so that
the driver's own connections see vLLM stop and come back (with its run-time adapters gone)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from mock_vllm import MockVllm


class FakeVllmServer:
    def __init__(self, port: int):
        self.port = port
        self.mock = MockVllm()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        mock = self.mock

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = httpx.Request(
                    self.command,
                    f"http://vllm{self.path}",
                    content=self.rfile.read(length) if length else b"",
                )
                response = mock.handle(request)
                self.send_response(response.status_code)
                self.send_header("content-type", response.headers.get("content-type", "text/plain"))
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None: ...

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self) -> None:
        """A new vLLM process: same port, no run-time adapters."""
        self.stop()
        self.mock = MockVllm()
        self.start()
