"""deploy/local/local_s3.py, the S3 API server standing in for MinIO in compose.local.yaml: what
the store wrote (small objects, a multipart upload, a delete) is there again after the server
is killed and started anew on the same log, as MinIO's data is after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, wait_for_port

pytestmark = pytest.mark.integration

SCRIPT = REPO / "deploy" / "local" / "local_s3.py"


def start(port: int, log: Path, output: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log",
            str(log),
        ],
        stdout=output.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, timeout=60)
    return proc


def test_writes_survive_a_kill_and_a_restart(tmp_path: Path) -> None:
    from advisor_shared.errors import ObjectNotFoundError
    from advisor_shared.store import S3Store

    port, log, output = free_port(), tmp_path / "writes.jsonl", tmp_path / "server.log"
    proc = start(port, log, output)
    try:
        bucket = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "create-bucket",
                "--endpoint",
                f"http://127.0.0.1:{port}",
                "advisor",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
        assert bucket.returncode == 0, bucket.stderr
        store = S3Store(f"127.0.0.1:{port}", "advisor", "local-key", "local-secret")
        store.put_bytes("jobs/a.json", b'{"status": "succeeded"}')
        store.put_bytes("jobs/gone.json", b"{}")
        store.delete("jobs/gone.json")
        big = tmp_path / "adapter.safetensors"
        big.write_bytes(os.urandom(12 * 1024 * 1024))  # over the client's 5 MiB part size
        store.put_file("adapters/x/v0001/adapter.safetensors", big)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    proc = start(port, log, output)
    try:
        store = S3Store(f"127.0.0.1:{port}", "advisor", "local-key", "local-secret")
        assert store.get_bytes("jobs/a.json") == b'{"status": "succeeded"}'
        with pytest.raises(ObjectNotFoundError):
            store.get_bytes("jobs/gone.json")
        assert store.get_bytes("adapters/x/v0001/adapter.safetensors") == big.read_bytes()
        assert "replayed" in output.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
