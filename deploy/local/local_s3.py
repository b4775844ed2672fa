"""moto's S3 API server with its writes kept on disk, standing in for MinIO (compose.local.yaml).

moto keeps objects in memory, so a restart would empty the store. Here every write that
succeeded (PUT, POST, DELETE answered 2xx) is appended to a log as the request moto received,
and at start the log is replayed into moto before the port opens: a stopped or killed
container comes back with the buckets and objects it had. Reads are not logged. Multipart
uploads are replayed under the upload ids moto hands out again. The log only grows: this is a
stand-in for a test stack, not a store to keep data in for long.

    python local_s3.py serve --host 127.0.0.1 --port 19000 --log /data/writes.jsonl
    python local_s3.py create-bucket --endpoint http://127.0.0.1:19000 advisor
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
_UPLOAD_ID = re.compile(r"<UploadId>([^<]+)</UploadId>")
_UPLOAD_ID_PARAM = re.compile(r"(?<=uploadId=)[^&]+")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class WriteLog:
    """An append-only JSON-lines log of the writes moto accepted."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append(json.loads(line))
            except ValueError:
                # Only the last line can be cut short (a kill mid-write); that write was never
                # answered, so its client saw a failure.
                print(f"local-s3: skipping unreadable line {number} of {self.path}", flush=True)
        return found


def _plain_environ(environ: Environ) -> dict[str, Any]:
    """The parts of a WSGI environ that describe the request (no streams or sockets)."""
    return {
        key: value
        for key, value in environ.items()
        if isinstance(value, str | int | bool)
        or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
    }


def _call(
    app: Callable[..., Iterable[bytes]], environ: Environ
) -> tuple[int, bytes, StartResponse]:
    """Run `app` on `environ`; the status, the whole body, and nothing streamed."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status = int(str(captured["status"]).split(" ", 1)[0])
    return status, body, lambda: (captured["status"], captured["headers"])


class LoggingApp:
    """WSGI middleware: writes pass through moto and, once answered 2xx, go to the log."""

    def __init__(self, app: Callable[..., Iterable[bytes]], log: WriteLog):
        self.app = app
        self.log = log

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in WRITE_METHODS:
            return self.app(environ, start_response)
        if environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING"):
            body = environ["wsgi.input"].read()  # chunked: the server ends the stream
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        request = _plain_environ(environ)
        # Replayed as one body of known length.
        request.pop("HTTP_TRANSFER_ENCODING", None)
        request.pop("wsgi.input_terminated", None)
        request["CONTENT_LENGTH"] = str(len(body))
        status, response, answered = _call(self.app, environ)
        if 200 <= status < 300:
            entry: dict[str, Any] = {"environ": request, "body": base64.b64encode(body).decode()}
            upload = _UPLOAD_ID.search(response.decode("utf-8", "replace"))
            if upload and "uploads" in request.get("QUERY_STRING", ""):
                entry["upload_id"] = upload[1]
            self.log.append(entry)
        status_line, headers = answered()
        start_response(status_line, headers)
        return [response]


def replay(app: Callable[..., Iterable[bytes]], log: WriteLog) -> int:
    """Apply every logged write to `app` in order; the number replayed."""
    upload_ids: dict[str, str] = {}  # logged upload id -> the one moto gave this time
    count = 0
    for entry in log.entries():
        environ: Environ = dict(entry["environ"])
        for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):
            if key in environ:
                environ[key] = _UPLOAD_ID_PARAM.sub(
                    lambda m: upload_ids.get(m[0], m[0]), environ[key]
                )
        body = base64.b64decode(entry["body"])
        environ.update(
            {
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0),
                "wsgi.multithread": False,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
        )
        status, response, _ = _call(app, environ)
        if not 200 <= status < 300:
            print(
                f"local-s3: replaying {environ.get('REQUEST_METHOD')} "
                f"{environ.get('PATH_INFO')} answered {status}",
                flush=True,
            )
        if "upload_id" in entry:
            new = _UPLOAD_ID.search(response.decode("utf-8", "replace"))
            if new:
                upload_ids[entry["upload_id"]] = new[1]
        count += 1
    return count


def serve(host: str, port: int, log_path: Path) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    moto = DomainDispatcherApplication(create_backend_app)
    log = WriteLog(log_path)
    started = time.monotonic()
    replayed = replay(moto, log)
    print(
        f"local-s3: replayed {replayed} writes from {log_path} in "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )
    server = make_server(
        host, port, LoggingApp(moto, log), threaded=True, request_handler=MotoRequestHandler
    )
    print(f"local-s3: listening on {host}:{port}", flush=True)
    server.serve_forever()


def create_bucket(endpoint: str, bucket: str, timeout_s: float = 60.0) -> None:
    """Create `bucket` unless it exists (safe to re-run, like minio-init)."""
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("ADVISOR_S3_ACCESS_KEY", "local"),
        aws_secret_access_key=os.environ.get("ADVISOR_S3_SECRET_KEY", "local"),
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            print(f"local-s3: bucket {bucket} created", flush=True)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                print(f"local-s3: bucket {bucket} exists", flush=True)
                return
            raise
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="the S3 API server")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=9000)
    serving.add_argument("--log", type=Path, default=Path("/data/writes.jsonl"))
    bucket = commands.add_parser("create-bucket", help="create a bucket unless it exists")
    bucket.add_argument("--endpoint", required=True)
    bucket.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port, args.log)
    else:
        create_bucket(args.endpoint, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
