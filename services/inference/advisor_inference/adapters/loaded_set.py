"""The adapters a gateway serves, recorded in the object store so that a restarted gateway
loads them again: `gateways/<set>/adapters/<name>/<version>.json`, one object per adapter.

One object each (not one list) so that loads and unloads of different adapters never rewrite
each other's record, even from two gateways sharing the set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from advisor_shared.bundle import VERSION, BundleRef, validate_adapter_name
from advisor_shared.errors import InvalidNameError
from advisor_shared.store import ObjectStore


class LoadedSet:
    def __init__(self, store: ObjectStore, set_name: str):
        self._store = store
        self._prefix = f"gateways/{set_name}/adapters/"

    def _key(self, ref: BundleRef) -> str:
        return f"{self._prefix}{validate_adapter_name(ref.name)}/{ref.version}.json"

    def refs(self) -> list[BundleRef]:
        """The recorded adapters, by name and version. Keys that are not a record are skipped."""
        found = []
        for key in self._store.list(self._prefix):
            name, _, filename = key[len(self._prefix) :].partition("/")
            version = filename.removesuffix(".json")
            if filename.endswith(".json") and VERSION.match(version):
                try:
                    found.append(BundleRef(validate_adapter_name(name), version))
                except InvalidNameError:
                    continue
        return sorted(found, key=lambda r: (r.name, r.version))

    def add(self, ref: BundleRef) -> None:
        record = {
            "adapter": str(ref),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._store.put_bytes(self._key(ref), json.dumps(record).encode(), overwrite=True)

    def remove(self, ref: BundleRef) -> None:
        self._store.delete(self._key(ref))
