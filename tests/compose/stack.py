"""Drive compose.yaml + compose.local.yaml as a user of a host without a GPU does
(docs/deployment.md, "First run without a GPU"): the same scripts and docker-compose commands,
each logged with its duration, and HTTP only to the ports the stack listens on."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
RENDERED = "compose.local.rendered.yaml"
# The loopback ports of compose.local.yaml.
GATEWAY = "http://127.0.0.1:18000"
EVALUATOR = "http://127.0.0.1:18001"
AUDITOR = "http://127.0.0.1:18002"
TRAINER = "http://127.0.0.1:18003"
T = TypeVar("T")


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of an env file."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs if not name.startswith("#")}


@dataclass
class Step:
    command: str
    seconds: float
    returncode: int


@dataclass
class LocalStack:
    """One compose project on this host: its env file, its name and the commands it ran."""

    env_file: Path
    project: str
    log_dir: Path
    steps: list[Step] = field(default_factory=list)

    def run(self, command: str, *, timeout: float = 600, check: bool = True) -> str:
        """Run `command` from the repository root (a docs command line), logged and timed."""
        started = time.monotonic()
        log = self.log_dir / f"{len(self.steps):02d}.log"
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        seconds = time.monotonic() - started
        log.write_text(f"$ {command}\n{result.stdout}\n{result.stderr}")
        self.steps.append(Step(command, round(seconds, 1), result.returncode))
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{command}` exited {result.returncode} after {seconds:.0f} s:\n"
                f"{(result.stdout + result.stderr)[-4000:]}"
            )
        return result.stdout

    def compose(self, arguments: str, **kwargs: Any) -> str:
        """`docker-compose ARGUMENTS` on the rendered file with this stack's env and name."""
        return self.run(
            f"docker-compose -f {RENDERED} -p {self.project} "
            f"--env-file {shlex.quote(str(self.env_file))} {arguments}",
            **kwargs,
        )

    def container_ids(self, service: str) -> list[str]:
        return self.compose(f"ps -q {service}").split()

    def logs(self, *services: str) -> str:
        return self.compose(f"logs --no-color --tail 80 {' '.join(services)}", check=False)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 2.0) -> T:
    """The first truthy value of `probe()`, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (httpx.HTTPError, ValueError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last error: {last_error})")


class Api:
    """A bearer-key client of one of the stack's HTTP services."""

    def __init__(self, base_url: str, key: str):
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return self.client.post(path, json=body, headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def job(self, path: str) -> dict[str, Any]:
        response = self.get(path)
        response.raise_for_status()
        return dict(response.json())

    def wait_finished(self, path: str, timeout: float) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.job(path)
            return job if job["status"] in ("succeeded", "failed", "cancelled") else None

        return wait_for(f"{path} finished", finished, timeout)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def timed(into: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    into[name] = round(time.monotonic() - started, 1)


def image_sizes(images: list[str]) -> dict[str, int]:
    """Bytes of each image as `docker image inspect` reports them (uncompressed)."""
    sizes = {}
    for image in images:
        result = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", image],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode == 0:
            sizes[image] = int(result.stdout.strip())
    return sizes


def sample_lines(path: Path, count: int) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[:count]]
