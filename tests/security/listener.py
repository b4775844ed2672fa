"""A loopback HTTP listener that records every request it gets and answers as scripted: the
stand-in for an internal service an attacker would point the evaluator at."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Listener:
    url: str
    requests: list[Seen] = field(default_factory=list)


@contextmanager
def listener(
    status: int = 200, body: object | None = None, models: tuple[str, ...] = ("judge-model",)
) -> Iterator[Listener]:
    """Answer every request with `status` and `body` (JSON); by default an OpenAI model list
    of `models` and a chat completion whose text is the verdict `[[A]]`."""
    state = Listener(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            state.requests.append(Seen(self.command, self.path, dict(self.headers.items())))
            if body is not None:
                payload = body
            elif self.path.endswith("/models"):
                payload = {
                    "object": "list",
                    "data": [
                        {"id": name, "object": "model", "created": 0, "owned_by": "x"}
                        for name in models
                    ],
                }
            else:
                payload = {
                    "id": "c",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "judge-model",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "[[A]]"},
                        }
                    ],
                }
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
