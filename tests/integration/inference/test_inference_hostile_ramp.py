"""docs/reliability.md, X6 at the gateway: 130 corrupt or hostile bundles (13 kinds, made with a
fixed seed) posted to `/v1/adapters` of the gateway over the real engine, served on a loopback port.
Every one must be refused with a 4xx before the engine is asked to load it, the engine must stay
healthy throughout (`/healthz` and `/readyz` after each), and the base model must still answer. The
trainer's side of X6 is tests/integration/trainer/test_trainer_hostile_resume.py."""

from __future__ import annotations

import json
import random
import struct
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from advisor_inference.core.config import Settings
from advisor_inference.engines.hf import HFEngine
from advisor_inference.main import create_app
from advisor_shared.models import resolve_base_model
from tests.integration.inference import hostile_bundles as hostile
from tests.integration.reliability.services import AUTH, KEY, figure, serve
from tests.unit.inference.lora_factory import publish

pytestmark = pytest.mark.integration
KINDS = 13
ROUNDS = 10
# Names that would escape the adapters/ prefix, or are not names at all (the last kind).
HOSTILE_NAMES = [
    "../etc",
    "x/../../y",
    "..",
    "./x",
    "x\\..\\y",
    "/abs",
    "a/b",
    "..%2f",
    "x\x00y",
    "UPPER",
]


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
        hostile.replace_file(
            store, ref, hostile.WEIGHTS, data[: rng.randrange(len(data))], fix_manifest=True
        )
    elif kind == 2:  # header length pointing past the end of the file
        length = len(data) + rng.randrange(1, 1 << 40)
        hostile.replace_file(
            store, ref, hostile.WEIGHTS, struct.pack("<Q", length) + data[8:], fix_manifest=True
        )
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
    elif kind == 11:  # well formed, but a diverged run's weights: one NaN or infinity
        from safetensors.torch import load, save

        state = dict(load(data))
        name = rng.choice(sorted(state))
        state[name].view(-1)[rng.randrange(state[name].numel())] = rng.choice(
            [float("nan"), float("inf"), float("-inf")]
        )
        hostile.replace_file(store, ref, hostile.WEIGHTS, bytes(save(state)), fix_manifest=True)


def hostile_refs(store, lora_dir: Path, base_dir: Path, cache: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """`name@version` of each hostile case: corrupt bundles in the store, then hostile names."""
    rng = random.Random(20250409)
    refs = []
    for i in range(KINDS * ROUNDS):
        kind = i % KINDS
        if kind == KINDS - 1:
            refs.append(f"{HOSTILE_NAMES[i // KINDS]}@v0001")
            continue
        ref = publish(store, f"hostile-{i:03d}", lora_dir, base_dir, cache)
        corrupt(kind, store, ref, rng)
        refs.append(f"{ref.name}@{ref.version}")
    return refs


def wait_ready(client: httpx.Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the gateway's engine never became ready"
        time.sleep(0.1)


def test_hostile_bundle_ramp_through_the_gateway_never_reaches_the_engine(
    tiny_model_dir: Path, lora_dirs: dict[str, Path], local_store, tmp_path: Path, capsys
) -> None:
    fingerprint = resolve_base_model(str(tiny_model_dir), tmp_path).fingerprint
    engine = CountingEngine(HFEngine(str(tiny_model_dir), base_fingerprint=fingerprint))
    refs = hostile_refs(local_store, lora_dirs["beta"], tiny_model_dir, tmp_path / "cache")
    settings = Settings(
        environment="production",
        api_keys=[KEY],
        admin_api_keys=[KEY],
        default_max_tokens=8,
        adapter_dir=tmp_path / "unpacked",
    )
    app = create_app(settings, engine=engine, store=local_store)  # type: ignore[arg-type]
    statuses: list[int] = []
    unclear: list[str] = []
    healthy = 0
    with serve(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        wait_ready(client)
        for ref in refs:
            response = client.post("/v1/adapters", json={"adapter": ref})
            statuses.append(response.status_code)
            error = response.json().get("error") or {}
            if not (error.get("message") and error.get("code")):
                unclear.append(f"{ref}: {response.text[:200]}")
            probes = (client.get("/healthz").status_code, client.get("/readyz").status_code)
            healthy += probes == (200, 200)
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        chat = client.post(
            "/v1/chat/completions",
            json={"model": "base", "messages": [{"role": "user", "content": "Any deadline?"}]},
        )
    refused = sum(400 <= s < 500 for s in statuses)
    leftovers = list((tmp_path / "unpacked").glob("hostile-*/v*/*"))
    text = (
        f"{len(refs)} hostile bundles ({KINDS} kinds x {ROUNDS}: flipped bit, truncated, "
        "header past EOF, pickle as weights, pickle beside, rank too high, target outside "
        "the allowed modules, non-LoRA type, rank disagreeing with tensors, unreadable "
        "header, another base model, non-finite weights, names escaping the prefix) posted to "
        "/v1/adapters: "
        f"{refused} refused with 4xx {dict(sorted(Counter(statuses).items()))}, "
        f"{len(unclear)} without an error code and message, {engine.loads} reached the "
        f"engine, engine healthy after {healthy}/{len(refs)}, base model answered "
        f"{chat.status_code}, {len(leftovers)} refused files left on disk"
    )
    ok = (
        refused == len(refs)
        and not unclear
        and engine.loads == 0
        and healthy == len(refs)
        and models == ["base"]
        and chat.status_code == 200
        and not leftovers
    )
    with capsys.disabled():
        figure(
            "X6 hostile bundles at the gateway",
            text,
            runs=len(refs),
            faults=len(refs),
            lost=len(refs) - refused,
            refused=refused,
            ok=ok,
        )
    assert len(refs) >= 100
    assert ok, (text, unclear[:3])
