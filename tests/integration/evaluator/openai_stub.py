"""A minimal OpenAI-compatible server for the evaluator's process tests (stdlib only).

Candidates answer deterministically from the prompt; the judge (any model named `judge-*`)
answers per `--judge`: `consistent` prefers the answer mentioning "caveat" in either slot,
`first-slot` always prefers slot A. Asked for `logprobs`, the judge answers with one token and
its alternatives (0.8 on its choice, 0.1 and 0.05 on the others). Every completion is counted; `GET /stats` returns the counts,
so tests can check that no generation ran twice. `--delay` slows completions so a test can kill
a worker mid-job.

    python -m tests.integration.evaluator.openai_stub --port 8123 --models base,tuned
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEMPLATE_SHA256 = "ab" * 32


def judge_reply(mode: str, user: str) -> str:
    a = user.split("[Response A]")[1].split("[End of Response A]")[0]
    b = user.split("[Response B]")[1].split("[End of Response B]")[0]
    if mode == "first-slot":
        return 'Verdict: {"preference": "A"}'
    preference = "A" if "caveat" in a and "caveat" not in b else "B" if "caveat" in b else "tie"
    high, low = {"domain_accuracy": 3, "helpfulness": 3}, {"domain_accuracy": 1, "helpfulness": 1}
    slots = {"A": (high, low), "B": (low, high), "tie": (high, high)}[preference]
    return json.dumps({"response_a": slots[0], "response_b": slots[1], "preference": preference})


def judge_logprobs(mode: str, user: str, count: int) -> dict:
    """OpenAI's `choices[].logprobs` for a one-token verdict."""
    a = user.split("[Response A]")[1].split("[End of Response A]")[0]
    b = user.split("[Response B]")[1].split("[End of Response B]")[0]
    choice = "A" if mode == "first-slot" or ("caveat" in a and "caveat" not in b) else "B"
    other = "B" if choice == "A" else "A"
    top = [
        {"token": t, "logprob": math.log(p), "bytes": list(t.encode())}
        for t, p in ((choice, 0.8), (other, 0.1), ("tie", 0.05))
    ]
    return {"content": [{**top[0], "top_logprobs": top[:count]}], "refusal": None}


def answer(model: str, prompt: str) -> str:
    if model == "base":
        return f"Here is what applies, with a caveat to check the official page: {prompt}"
    return f"Definitely, {prompt} The answer is simple and certain."


class Handler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/stats":
            with self.server.lock:
                self._send(200, {"calls": dict(self.server.calls)})
        elif self.path == "/v1/models":
            names = self.server.models + ["judge-stub"]
            self._send(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": n, "object": "model", "created": 0, "owned_by": "stub"}
                        for n in names
                    ],
                },
            )
        else:
            self._send(404, {"error": {"message": "not found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        model = body["model"]
        if model not in self.server.models and model != "judge-stub":
            self._send(
                404,
                {
                    "error": {
                        "message": f"no model {model}",
                        "type": "not_found_error",
                        "param": "model",
                        "code": "model_not_found",
                    }
                },
            )
            return
        time.sleep(self.server.delay)
        messages = body["messages"]
        logprobs = None
        if model == "judge-stub" and body.get("logprobs"):
            logprobs = judge_logprobs(
                self.server.judge, messages[-1]["content"], body.get("top_logprobs") or 0
            )
            text = logprobs["content"][0]["token"]
        elif model == "judge-stub":
            text = judge_reply(self.server.judge, messages[-1]["content"])
        else:
            text = answer(model, messages[-1]["content"])
        finish = "stop"
        if len(text) > body.get("max_tokens", 512):
            text, finish = text[: body["max_tokens"]], "length"
        with self.server.lock:
            self.server.calls[model] += 1
        self._send(
            200,
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish,
                        "logprobs": logprobs,
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": len(text.split()),
                    "total_tokens": 2,
                },
            },
            {"x-advisor-chat-template-sha256": TEMPLATE_SHA256},
        )


class StubServer(ThreadingHTTPServer):
    def __init__(self, port: int, models: list[str], judge: str, delay: float):
        super().__init__(("127.0.0.1", port), Handler)
        self.models, self.judge, self.delay = models, judge, delay
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", default="base,tuned")
    parser.add_argument("--judge", choices=["consistent", "first-slot"], default="consistent")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    StubServer(args.port, args.models.split(","), args.judge, args.delay).serve_forever()


if __name__ == "__main__":
    main()
