"""Corrupt and hostile variants of a committed bundle, made by rewriting objects in the store
after the fact (as an attacker with store access, or a bit flip, would)."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct

from advisor_shared.bundle import BundleRef
from advisor_shared.store import ObjectStore

WEIGHTS = "adapter_model.safetensors"


def _key(ref: BundleRef, filename: str) -> str:
    return f"adapters/{ref.name}/{ref.version}/{filename}"


def replace_file(
    store: ObjectStore, ref: BundleRef, filename: str, data: bytes, *, fix_manifest: bool
) -> None:
    """Overwrite one file; with `fix_manifest` the manifest is updated to match, so that only
    the deeper checks (header, config, shapes) can catch it."""
    store.put_bytes(_key(ref, filename), data, overwrite=True)
    if fix_manifest:
        manifest = json.loads(store.get_bytes(_key(ref, "manifest.json")))
        manifest["files"][filename] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        store.put_bytes(_key(ref, "manifest.json"), json.dumps(manifest).encode(), overwrite=True)


def flip_byte(store: ObjectStore, ref: BundleRef) -> None:
    data = bytearray(store.get_bytes(_key(ref, WEIGHTS)))
    data[len(data) // 2] ^= 0x01
    replace_file(store, ref, WEIGHTS, bytes(data), fix_manifest=False)


def truncate(store: ObjectStore, ref: BundleRef) -> None:
    data = store.get_bytes(_key(ref, WEIGHTS))
    replace_file(store, ref, WEIGHTS, data[: len(data) // 2], fix_manifest=True)


def header_past_eof(store: ObjectStore, ref: BundleRef) -> None:
    data = store.get_bytes(_key(ref, WEIGHTS))
    replace_file(
        store, ref, WEIGHTS, struct.pack("<Q", len(data) * 10) + data[8:], fix_manifest=True
    )


def pickle_weights(store: ObjectStore, ref: BundleRef) -> None:
    """A pickle where safetensors should be; loading it with torch.load would run code."""
    payload = pickle.dumps({"lora_A": [0.0] * 64}, protocol=2)
    replace_file(store, ref, WEIGHTS, payload, fix_manifest=True)


def pickle_beside(store: ObjectStore, ref: BundleRef) -> None:
    """An extra `adapter_model.bin` pickle listed in the manifest."""
    replace_file(store, ref, "adapter_model.bin", pickle.dumps([1, 2, 3]), fix_manifest=True)


def bad_config(store: ObjectStore, ref: BundleRef, **changes: object) -> None:
    config = json.loads(store.get_bytes(_key(ref, "adapter_config.json")))
    config.update(changes)
    replace_file(store, ref, "adapter_config.json", json.dumps(config).encode(), fix_manifest=True)
