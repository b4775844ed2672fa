"""Run the demo's stages as the real services run: each `advisor` command in its own process,
its output kept in a log file, the gateway as a long-lived server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from advisor_shared.errors import AdvisorError


class StageFailed(AdvisorError):
    """A stage's process exited non-zero; the message points at its log."""


def advisor_command(*args: str) -> list[str]:
    """`advisor ARGS` with this interpreter, so the demo never picks another installation."""
    return [sys.executable, "-c", "from advisor_shared.cli import main; main()", *args]


def run_logged(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    *,
    on_tick: Callable[[subprocess.Popen[bytes]], None] | None = None,
    poll_s: float = 0.5,
) -> float:
    """Run `command` to completion with output to `log_path`; return its wall time in seconds.
    `on_tick(process)` is called every `poll_s` while it runs (e.g. to stop it at a step)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command[3:] if command[1] == "-c" else command) + "\n")
        log.flush()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        while process.poll() is None:
            if on_tick is not None:
                on_tick(process)
            time.sleep(poll_s)
    if process.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        raise StageFailed(
            f"`{' '.join(command[3:5])}` exited with {process.returncode}; see {log_path}:\n"
            + "\n".join(tail)
        )
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process started with its output in a log file; `wait_ready`, then `stop`."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, ready_url: str, timeout_s: float = 300.0) -> None:
        """Return once `ready_url` answers 200; raise if the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise StageFailed(
                    f"server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(ready_url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise StageFailed(f"server not ready after {timeout_s:.0f}s; see {self.log_path}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """This process's environment (PATH, locale) plus the demo's settings for the services."""
    return {**os.environ, **overrides}
