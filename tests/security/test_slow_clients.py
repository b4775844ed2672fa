"""Finding 3 (slow clients): 40 clients sending partial headers or bodies kept their sockets open
indefinitely. The evaluator's API is started with its image's own command line (the Dockerfile's
CMD, only the port changed) and probed over raw sockets: silent connections, headers or a body
cut short, and both dripped a byte at a time. Each must be closed within the read deadline,
while a well-behaved client on a kept-alive connection is still served."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import REPO, free_port, wait_for_http

pytestmark = pytest.mark.integration

KEY = "slow-client-key-3e8d"
DEADLINE_S = 2.0
MARGIN_S = 2.0
HEAD = "POST /v1/evaluations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY + "\r\n"
PROBES = {
    # name: (bytes sent at once, bytes dripped one at a time every DRIP_S)
    "silent": (b"", b""),
    "partial headers": (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b""),
    "dripped headers": (b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 400),
    "partial body": ((HEAD + "Content-Length: 1000\r\n\r\n{").encode(), b""),
    "dripped body": ((HEAD + "Content-Length: 1000\r\n\r\n").encode(), b"{" + b" " * 999),
}
CLIENTS_PER_PROBE = 8
DRIP_S = 0.25


def image_command(port: int) -> list[str]:
    """The evaluator image's CMD, on `port` and loopback."""
    text = (REPO / "services" / "evaluator" / "Dockerfile").read_text()
    words = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert words[0] == "uvicorn"
    words[words.index("--port") + 1] = str(port)
    words[words.index("--host") + 1] = "127.0.0.1"
    return [sys.executable, "-m", *words]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = {
        **os.environ,
        "ADVISOR_API_KEYS": KEY,
        "ADVISOR_STORE_URL": f"file://{root / 'store'}",
        "ADVISOR_REQUEST_READ_TIMEOUT_S": str(DEADLINE_S),
    }
    env.pop("ADVISOR_REDIS_URL", None)
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(
        image_command(port), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(
            proc, f"http://127.0.0.1:{port}/healthz", root / "server.log", timeout=120, interval=0.3
        )
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def slow_client(port: int, first: bytes, drip: bytes, limit_s: float) -> tuple[float | None, bytes]:
    """Send `first`, then `drip` a byte at a time; (seconds until the server closed the
    connection or None if it never did within `limit_s`, what the server sent)."""
    received = b""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(DRIP_S)
        sock.sendall(first)
        position = 0
        while time.monotonic() - started < limit_s:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                if position < len(drip):
                    try:
                        sock.sendall(drip[position : position + 1])
                    except OSError:
                        return time.monotonic() - started, received
                    position += 1
                continue
            except OSError:
                return time.monotonic() - started, received
            if not chunk:
                return time.monotonic() - started, received
            received += chunk
    return None, received


def test_slow_clients_are_closed_within_the_read_deadline(server: int) -> None:
    limit = DEADLINE_S + MARGIN_S + 4
    results: dict[str, list[tuple[float | None, bytes]]] = {name: [] for name in PROBES}
    threads = [
        threading.Thread(
            target=lambda n=name, f=first, d=drip: results[n].append(
                slow_client(server, f, d, limit)
            )
        )
        for name, (first, drip) in PROBES.items()
        for _ in range(CLIENTS_PER_PROBE)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slowest = {
        name: max((t if t is not None else float("inf")) for t, _ in found)
        for name, found in results.items()
    }
    print(
        f"\n{len(threads)} slow clients, deadline {DEADLINE_S} s: closed after (slowest) "
        + ", ".join(f"{name} {t:.1f} s" for name, t in slowest.items())
    )
    for name, seconds in slowest.items():
        assert seconds <= DEADLINE_S + MARGIN_S, f"{name}: socket held {seconds} s"
    for name in ("silent", "partial headers", "dripped headers"):
        assert all(b" 408 " in body.split(b"\r\n")[0] for _, body in results[name]), name


def test_a_prompt_client_is_served_before_and_after_the_deadline(server: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server}") as client:
        assert client.get("/healthz").status_code == 200
        time.sleep(DEADLINE_S + 0.5)  # idle between requests: the keep-alive timeout's business
        assert client.get("/healthz").status_code == 200
    # A request that takes a while but arrives within the deadline is read whole.
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(DEADLINE_S / 2)
        sock.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
