"""RELIABILITY.md X6: 110 corrupt or hostile bundles, made with a fixed seed. Every one must be
refused before the engine is asked to load it, and the engine must stay healthy throughout."""

from __future__ import annotations

import asyncio
import json
import random
import struct
from pathlib import Path

import pytest

from advisor_inference.adapters.service import AdapterService
from advisor_inference.core.config import Settings
from advisor_inference.engines.hf import HFEngine
from advisor_inference.errors import InferenceError
from advisor_shared.models import resolve_base_model
from tests.integration.inference import hostile_bundles as hostile
from tests.unit.inference.lora_factory import publish

pytestmark = pytest.mark.integration
KINDS = 11


class CountingEngine:
    """The real engine, with a count of the loads that reached it."""

    def __init__(self, engine: HFEngine):
        self._engine, self.loads = engine, 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._engine, name)

    async def load_adapter(self, name: str, path: Path) -> None:
        self.loads += 1
        await self._engine.load_adapter(name, path)


def corrupt(kind: int, store, ref, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    key = f"adapters/{ref.name}/{ref.version}/{hostile.WEIGHTS}"
    data = store.get_bytes(key)
    if kind == 0:  # one flipped bit anywhere, manifest untouched
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        hostile.replace_file(store, ref, hostile.WEIGHTS, bytes(flipped), fix_manifest=False)
    elif kind == 1:  # truncated at a random length, manifest rewritten to match
        hostile.replace_file(store, ref, hostile.WEIGHTS, data[: rng.randrange(len(data))],
                             fix_manifest=True)  # fmt: skip
    elif kind == 2:  # header length pointing past the end of the file
        length = len(data) + rng.randrange(1, 1 << 40)
        hostile.replace_file(store, ref, hostile.WEIGHTS, struct.pack("<Q", length) + data[8:],
                             fix_manifest=True)  # fmt: skip
    elif kind == 3:
        hostile.pickle_weights(store, ref)
    elif kind == 4:
        hostile.pickle_beside(store, ref)
    elif kind == 5:
        hostile.bad_config(store, ref, r=rng.choice([17, 32, 64, 256]))
    elif kind == 6:
        hostile.bad_config(
            store, ref, target_modules=["q_proj", rng.choice(["lm_head", "embed_tokens", "norm"])]
        )
    elif kind == 7:
        hostile.bad_config(store, ref, peft_type=rng.choice(["PREFIX_TUNING", "IA3", "LOHA"]))
    elif kind == 8:  # rank in the config disagrees with the tensors
        hostile.bad_config(store, ref, r=rng.choice([1, 2, 3, 8]))
    elif kind == 9:  # header JSON made unreadable, sizes kept
        (size,) = struct.unpack("<Q", data[:8])
        garbled = data[:8] + b"{" * size + data[8 + size :]
        hostile.replace_file(store, ref, hostile.WEIGHTS, garbled, fix_manifest=True)
    elif kind == 10:  # manifest names another base model
        manifest_key = f"adapters/{ref.name}/{ref.version}/manifest.json"
        manifest = json.loads(store.get_bytes(manifest_key))
        manifest["base_model"]["fingerprint"] = f"sha256:{rng.getrandbits(256):064x}"
        store.put_bytes(manifest_key, json.dumps(manifest).encode(), overwrite=True)


def test_hostile_bundle_ramp_never_reaches_the_engine(
    tiny_model_dir: Path, lora_dirs: dict[str, Path], local_store, tmp_path: Path
) -> None:
    fingerprint = resolve_base_model(str(tiny_model_dir), tmp_path).fingerprint
    real = HFEngine(str(tiny_model_dir), base_fingerprint=fingerprint)
    engine = CountingEngine(real)
    service = AdapterService(local_store, engine, Settings(adapter_dir=tmp_path / "unpacked"))  # type: ignore[arg-type]
    rng = random.Random(20250409)
    refs = []
    for i in range(KINDS * 10):
        ref = publish(local_store, f"hostile-{i:03d}", lora_dirs["beta"], tiny_model_dir, tmp_path)
        corrupt(i % KINDS, local_store, ref, rng)
        refs.append(ref)

    async def scenario() -> tuple[list[int], list[bool]]:
        await real.start()
        statuses, healthy = [], []
        for ref in refs:
            try:
                await service.load(f"{ref.name}@{ref.version}")
                statuses.append(200)
            except InferenceError as exc:
                statuses.append(exc.status)
            healthy.append((await real.health()).ready)
        await real.close()
        return statuses, healthy

    statuses, healthy = asyncio.run(scenario())
    assert len(statuses) == 110
    assert all(400 <= s < 500 for s in statuses), statuses
    assert engine.loads == 0 and all(healthy)
    assert not any((tmp_path / "unpacked").glob("hostile-*/v*/*"))  # refused files are removed
