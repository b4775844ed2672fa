"""Object storage behind one interface: a local folder (embedded default) or S3 (MinIO).

Objects are write-once: `put_*` refuses to overwrite unless asked, so a stored adapter version
or result can never be replaced by a later write (docs/reliability.md, F3 and F8).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from .errors import InvalidNameError, ObjectExistsError, ObjectNotFoundError, StoreError
from .settings import AdvisorSettings

_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def validate_key(key: str) -> str:
    """Return `key` if every `/`-separated segment is a plain name; refuse traversal tricks."""
    segments = key.split("/")
    if not key or len(key) > 1024 or any(s in ("", ".", "..") for s in segments):
        raise InvalidNameError(f"invalid object key {key[:200]!r}")
    for segment in segments:
        if not _KEY_SEGMENT.match(segment) or ".." in segment:
            raise InvalidNameError(f"invalid object key segment {segment[:200]!r}")
    return key


class ObjectStore(ABC):
    """Minimal write-once key/value store of bytes."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` (a folder-like prefix ending in `/`), recursively, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def put_file(self, key: str, path: Path, *, overwrite: bool = False) -> None:
        self.put_bytes(key, Path(path).read_bytes(), overwrite=overwrite)

    def download(self, key: str, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.get_bytes(key))


class LocalStore(ObjectStore):
    """A folder on disk. Writes go to a temp file then hard-link into place, atomically."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                os.replace(tmp, target)
                return
            try:
                os.link(tmp, target)  # fails if the target exists: write-once without a race
            except FileExistsError:
                raise ObjectExistsError(f"object {key!r} already exists") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_file(self, key: str, path: Path, *, overwrite: bool = False) -> None:
        target = self._path(key)
        if target.exists() and not overwrite:
            raise ObjectExistsError(f"object {key!r} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            if overwrite:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise ObjectExistsError(f"object {key!r} already exists") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(f"object {key!r} not found") from None

    def download(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectNotFoundError(f"object {key!r} not found")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if not base.is_dir():
            return iter(())
        keys = (
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store(ObjectStore):
    """An S3 API bucket through the `minio` client (MinIO in compose, any S3 in production).

    Write-once is checked with a `stat` before the upload; S3 has no portable atomic
    create-if-absent, so two writers racing on one key are prevented one level up (versions
    are allocated by one trainer per run; results use deterministic keys with identical bytes).
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool = False,
        region: str | None = None,
    ):
        from minio import Minio

        self.bucket = bucket
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        if not self.client.bucket_exists(bucket):
            # Created without a bucket policy: private, no anonymous access.
            self.client.make_bucket(bucket)

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> None:
        validate_key(key)
        if not overwrite and self.exists(key):
            raise ObjectExistsError(f"object {key!r} already exists")
        self.client.put_object(self.bucket, key, io.BytesIO(data), length=len(data))

    def put_file(self, key: str, path: Path, *, overwrite: bool = False) -> None:
        validate_key(key)
        if not overwrite and self.exists(key):
            raise ObjectExistsError(f"object {key!r} already exists")
        self.client.fput_object(self.bucket, key, str(path))

    def get_bytes(self, key: str) -> bytes:
        from minio.error import S3Error

        validate_key(key)
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFoundError(f"object {key!r} not found") from None
            raise StoreError(f"S3 error reading {key!r}: {exc.code}") from exc
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def download(self, key: str, path: Path) -> None:
        from minio.error import S3Error

        validate_key(key)
        try:
            self.client.fget_object(self.bucket, key, str(path))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFoundError(f"object {key!r} not found") from None
            raise StoreError(f"S3 error reading {key!r}: {exc.code}") from exc

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        validate_key(key)
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise StoreError(f"S3 error checking {key!r}: {exc.code}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return iter(sorted(obj.object_name for obj in objects if obj.object_name))

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, validate_key(key))


def open_store(settings: AdvisorSettings) -> ObjectStore:
    """Build the store named by `settings.store_url`: `file://PATH` or `s3://HOST:PORT/BUCKET`."""
    url = urlparse(settings.store_url)
    if url.scheme == "file":
        return LocalStore(Path(url.netloc + url.path))
    if url.scheme == "s3":
        bucket = url.path.strip("/")
        if not url.netloc or not bucket:
            raise StoreError(
                f"ADVISOR_STORE_URL must look like s3://host:port/bucket, got {url.geturl()!r}"
            )
        if settings.s3_access_key is None or settings.s3_secret_key is None:
            raise StoreError(
                "ADVISOR_S3_ACCESS_KEY and ADVISOR_S3_SECRET_KEY are required for s3://"
            )
        return S3Store(
            url.netloc,
            bucket,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    raise StoreError(f"unsupported ADVISOR_STORE_URL scheme {url.scheme!r} (use file:// or s3://)")
