"""Real service processes for tests: started with a log file each, stopped together."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ProcessGroup:
    """Processes sharing one environment, each logging to `root/<name>.log`."""

    root: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        handle = open(log, "w")  # noqa: SIM115 - kept open for the child's lifetime
        proc = subprocess.Popen(
            args, env=self.env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def stop(self) -> None:
        """SIGTERM each, then SIGKILL whatever has not exited after 20 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
