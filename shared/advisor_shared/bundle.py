"""Adapter bundles in the object store, `adapters/<name>/<version>/` (docs/design.md).

Writing: every file first, `manifest.json` last — the manifest is the commit marker. Reading:
a bundle without a valid manifest does not exist; every file is checked against the manifest's
size and sha256, and the safetensors header is parsed defensively before anyone loads it.
Versions are allocated past every existing version folder, so nothing is ever overwritten,
not even the leftovers of an interrupted upload.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BundleError, InvalidNameError, ObjectNotFoundError
from .safetensors_header import TensorInfo, inspect_safetensors
from .store import ObjectStore

BUNDLE_FORMAT = "advisor-adapter-bundle/1"
ADAPTER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
VERSION = re.compile(r"^v(\d{4,9})$")
MANIFEST = "manifest.json"
REQUIRED_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "chat_template.jinja",
    "trainer_state.json",
)
OPTIONAL_FILES = ("optimizer.pt",)
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_JSON_FILE_BYTES = 64 * 1024 * 1024


def validate_adapter_name(name: str) -> str:
    """Adapter names are lower-case slugs: no `/`, no `..`, nothing that escapes the prefix."""
    if not isinstance(name, str) or not ADAPTER_NAME.match(name):
        raise InvalidNameError(
            f"invalid adapter name {str(name)[:100]!r}: use 1-64 of a-z, 0-9, '-', '_' "
            "starting and ending with a letter or digit"
        )
    return name


def validate_version(version: str) -> str:
    if not VERSION.match(version):
        raise InvalidNameError(f"invalid bundle version {version[:100]!r}: expected like 'v0001'")
    return version


def format_version(number: int) -> str:
    return f"v{number:04d}"


@dataclass(frozen=True)
class BundleRef:
    """`name@version`; version `latest` means the newest committed bundle."""

    name: str
    version: str = "latest"

    @classmethod
    def parse(cls, text: str) -> BundleRef:
        name, _, version = text.partition("@")
        validate_adapter_name(name)
        version = version or "latest"
        if version != "latest":
            validate_version(version)
        return cls(name, version)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class BaseModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=500)
    fingerprint: str = Field(min_length=1, max_length=200)


class Manifest(BaseModel):
    """The commit marker of a bundle: what it holds and what it was trained against."""

    model_config = ConfigDict(extra="forbid")
    format: str = BUNDLE_FORMAT
    name: str
    version: str
    created_at: str
    files: dict[str, FileEntry]
    base_model: BaseModelInfo
    chat_template_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    libraries: dict[str, str] = {}
    parent: str | None = None


@dataclass(frozen=True)
class AdapterBundle:
    """A verified bundle downloaded to `path`."""

    ref: BundleRef
    path: Path
    manifest: Manifest
    tensors: dict[str, TensorInfo]

    @property
    def adapter_config(self) -> dict[str, Any]:
        return json.loads((self.path / "adapter_config.json").read_text())

    @property
    def chat_template(self) -> str:
        return (self.path / "chat_template.jinja").read_text()

    @property
    def trainer_state(self) -> dict[str, Any]:
        return json.loads((self.path / "trainer_state.json").read_text())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prefix(name: str) -> str:
    return f"adapters/{validate_adapter_name(name)}/"


def _existing_versions(store: ObjectStore, name: str) -> dict[int, bool]:
    """Every version folder under the name, mapped to whether its manifest exists."""
    versions: dict[int, bool] = {}
    prefix = _prefix(name)
    for key in store.list(prefix):
        version, _, filename = key[len(prefix) :].partition("/")
        match = VERSION.match(version)
        if match:
            number = int(match.group(1))
            versions[number] = versions.get(number, False) or filename == MANIFEST
    return versions


def list_versions(store: ObjectStore, name: str) -> list[str]:
    """Committed versions (with a manifest), oldest first."""
    return [format_version(n) for n, ok in sorted(_existing_versions(store, name).items()) if ok]


def list_adapters(store: ObjectStore) -> list[str]:
    names = {key.split("/")[1] for key in store.list("adapters/") if key.count("/") >= 3}
    return sorted(n for n in names if ADAPTER_NAME.match(n))


@dataclass(frozen=True)
class BundleSummary:
    """A committed bundle as a listing shows it: its manifest, or why it could not be read."""

    name: str
    version: str
    manifest: Manifest | None = None
    problem: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def list_bundles(store: ObjectStore) -> list[BundleSummary]:
    """Every committed bundle in the store (one listing of `adapters/`, then each manifest),
    by name then version. An unreadable manifest is listed with its problem, not hidden."""
    committed: set[tuple[str, int]] = set()
    for key in store.list("adapters/"):
        parts = key.split("/")
        if len(parts) != 4 or parts[3] != MANIFEST or not ADAPTER_NAME.match(parts[1]):
            continue
        match = VERSION.match(parts[2])
        if match:
            committed.add((parts[1], int(match.group(1))))
    found = []
    for name, number in sorted(committed):
        ref = BundleRef(name, format_version(number))
        try:
            found.append(BundleSummary(name, ref.version, manifest=read_manifest(store, ref)))
        except BundleError as exc:
            found.append(BundleSummary(name, ref.version, problem=str(exc)))
    return found


def write_bundle(
    store: ObjectStore,
    name: str,
    source_dir: Path,
    *,
    base_model_id: str,
    base_fingerprint: str,
    chat_template_sha256: str,
    libraries: dict[str, str] | None = None,
    parent: str | None = None,
) -> BundleRef:
    """Upload the files in `source_dir` as the next version of `name`, manifest last."""
    source_dir = Path(source_dir)
    missing = [f for f in REQUIRED_FILES if not (source_dir / f).is_file()]
    if missing:
        raise BundleError(f"cannot write bundle {name!r}: missing {', '.join(missing)}")
    inspect_safetensors(source_dir / "adapter_model.safetensors")
    names = [f for f in REQUIRED_FILES + OPTIONAL_FILES if (source_dir / f).is_file()]
    files = {
        f: FileEntry(sha256=sha256_file(source_dir / f), size=(source_dir / f).stat().st_size)
        for f in names
    }
    existing = _existing_versions(store, name)
    version = format_version(max(existing, default=0) + 1)
    manifest = Manifest(
        name=name,
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files=files,
        base_model=BaseModelInfo(id=base_model_id, fingerprint=base_fingerprint),
        chat_template_sha256=chat_template_sha256,
        libraries=libraries or {},
        parent=parent,
    )
    prefix = f"{_prefix(name)}{version}/"
    for filename in names:
        store.put_file(prefix + filename, source_dir / filename)
    store.put_bytes(prefix + MANIFEST, manifest.model_dump_json(indent=2).encode())
    return BundleRef(name, version)


def resolve_ref(store: ObjectStore, ref: BundleRef) -> BundleRef:
    """Turn `name@latest` into the newest committed version; check that a pinned one exists."""
    committed = list_versions(store, ref.name)
    if ref.version == "latest":
        if not committed:
            raise BundleError(f"adapter {ref.name!r} has no committed bundle in the store")
        return BundleRef(ref.name, committed[-1])
    if ref.version not in committed:
        raise BundleError(f"bundle {ref} does not exist (no manifest: never committed)")
    return ref


def read_manifest(store: ObjectStore, ref: BundleRef) -> Manifest:
    key = f"{_prefix(ref.name)}{validate_version(ref.version)}/{MANIFEST}"
    try:
        raw = store.get_bytes(key)
    except ObjectNotFoundError:
        raise BundleError(f"bundle {ref} has no manifest: it was never committed") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BundleError(f"bundle {ref}: manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(f"bundle {ref}: invalid manifest ({where}: {first['msg']})") from None
    if manifest.format != BUNDLE_FORMAT:
        raise BundleError(f"bundle {ref}: unknown format {manifest.format[:50]!r}")
    if (manifest.name, manifest.version) != (ref.name, ref.version):
        raise BundleError(f"bundle {ref}: manifest names {manifest.name}@{manifest.version}")
    allowed = set(REQUIRED_FILES + OPTIONAL_FILES)
    unknown = sorted(set(manifest.files) - allowed)
    if unknown:
        raise BundleError(f"bundle {ref}: unexpected file(s) {', '.join(unknown)[:200]}")
    missing = [f for f in REQUIRED_FILES if f not in manifest.files]
    if missing:
        raise BundleError(f"bundle {ref}: manifest lacks {', '.join(missing)}")
    return manifest


def read_bundle_file(store: ObjectStore, ref: BundleRef, filename: str) -> bytes:
    """One file of committed bundle `ref` (a pinned version), checked against the manifest's
    size and sha256, without downloading the rest (e.g. the ledger, for a training curve)."""
    manifest = read_manifest(store, ref)
    entry = manifest.files.get(filename)
    if entry is None:
        raise BundleError(f"bundle {ref} has no {filename}")
    try:
        data = store.get_bytes(f"{_prefix(ref.name)}{ref.version}/{filename}")
    except ObjectNotFoundError:
        raise BundleError(f"bundle {ref}: {filename} is missing from the store") from None
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise BundleError(f"bundle {ref}: {filename} does not match its sha256 in the manifest")
    return data


def read_bundle(
    store: ObjectStore, ref: BundleRef, dest: Path, *, include_optimizer: bool = False
) -> AdapterBundle:
    """Download and verify a bundle into `dest/<name>/<version>/`; raise BundleError if bad."""
    ref = resolve_ref(store, ref)
    manifest = read_manifest(store, ref)
    target = Path(dest) / ref.name / ref.version
    target.mkdir(parents=True, exist_ok=True)
    prefix = f"{_prefix(ref.name)}{ref.version}/"
    for filename, entry in manifest.files.items():
        if filename in OPTIONAL_FILES and not include_optimizer:
            continue
        local = target / filename
        try:
            store.download(prefix + filename, local)
        except ObjectNotFoundError:
            raise BundleError(f"bundle {ref}: {filename} is missing from the store") from None
        size = local.stat().st_size
        if size != entry.size:
            raise BundleError(
                f"bundle {ref}: {filename} is {size} bytes, manifest says {entry.size}"
            )
        if sha256_file(local) != entry.sha256:
            raise BundleError(f"bundle {ref}: {filename} does not match its sha256 in the manifest")
    tensors = inspect_safetensors(target / "adapter_model.safetensors")
    for filename in ("adapter_config.json", "trainer_state.json"):
        try:
            json.loads((target / filename).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BundleError(f"bundle {ref}: {filename} is not valid JSON") from None
    return AdapterBundle(ref=ref, path=target, manifest=manifest, tensors=tensors)
