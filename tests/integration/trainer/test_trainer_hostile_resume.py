"""docs/reliability.md, X6 at the trainer: 140 corrupt or hostile bundles (14 kinds, made with a
fixed seed from a real bundle of the tiny model) given to a run as the bundle to resume from. Every
one must be refused with a clear error (an `AdvisorError`: one line from the CLI, the job's error
through the API) before a step is trained or a bundle committed, and no pickle may run code. The
gateway's side of X6 is tests/integration/inference/test_inference_hostile_ramp.py."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from advisor_shared.bundle import list_versions
from advisor_shared.errors import AdvisorError
from advisor_shared.store import LocalStore
from advisor_trainer.errors import HandoffMismatchError
from advisor_trainer.training.progress import SilentProgress
from advisor_trainer.training.session import run_training
from tests.integration.reliability.services import figure
from tests.unit.trainer.trainer_testkit import tiny_config

pytestmark = pytest.mark.integration
KINDS = 14
ROUNDS = 10
RUN = "hostile"
WEIGHTS = "adapter_model.safetensors"
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


class RunsCode:
    """Unpickling this makes a directory: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


class Steps(SilentProgress):
    def __init__(self) -> None:
        self.count = 0

    def on_step(self, report: Any) -> None:
        self.count += 1


class Bundle:
    """A copy of the source bundle under `RUN@version`, rewritten as an attacker with store
    access would; `commit` writes the manifest last, with sha256 and sizes to match unless told
    otherwise, so that only the deeper checks can catch it."""

    def __init__(self, store: LocalStore, source: str, version: str):
        self.store, self.prefix = store, f"adapters/{RUN}/{version}/"
        self.manifest = json.loads(store.get_bytes(f"{source}manifest.json"))
        self.manifest["name"], self.manifest["version"] = RUN, version
        self.files = {f: store.get_bytes(source + f) for f in self.manifest["files"]}
        self.stale: set[str] = set()

    def commit(self) -> None:
        for name, data in self.files.items():
            self.store.put_bytes(self.prefix + name, data, overwrite=True)
            if name not in self.stale:
                entry = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                self.manifest["files"][name] = entry
        self.store.put_bytes(self.prefix + "manifest.json", json.dumps(self.manifest).encode())


def tensors(data: bytes) -> dict[str, Any]:
    from safetensors.torch import load

    return dict(load(data))


def safetensors_bytes(state: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    return bytes(save(state))


def corrupt(kind: int, bundle: Bundle, rng: random.Random, marker: Path) -> None:
    import torch

    data = bundle.files[WEIGHTS]
    if kind == 0:  # one flipped bit anywhere, manifest untouched
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        bundle.files[WEIGHTS], bundle.stale = bytes(flipped), {WEIGHTS}
    elif kind == 1:  # truncated at a random length
        bundle.files[WEIGHTS] = data[: rng.randrange(len(data))]
    elif kind == 2:  # header length pointing past the end of the file
        length = len(data) + rng.randrange(1, 1 << 40)
        bundle.files[WEIGHTS] = struct.pack("<Q", length) + data[8:]
    elif kind == 3:  # a code-running pickle where the safetensors should be
        bundle.files[WEIGHTS] = pickle.dumps(RunsCode(marker))
    elif kind == 4:  # a pickle beside the weights, listed in the manifest
        bundle.files["adapter_model.bin"] = pickle.dumps(RunsCode(marker))
    elif kind == 5:  # a code-running pickle as the optimizer state
        buffer = io.BytesIO()
        torch.save({"state": RunsCode(marker), "param_groups": []}, buffer)
        bundle.files["optimizer.pt"] = buffer.getvalue()
    elif kind == 6:  # rank too high: every LoRA tensor (and the config) of a larger rank
        rank = rng.choice([8, 16, 64])
        state = {
            name: torch.zeros(
                [rank, t.shape[1]] if "lora_A" in name else [t.shape[0], rank], dtype=t.dtype
            )
            for name, t in tensors(data).items()
        }
        bundle.files[WEIGHTS] = safetensors_bytes(state)
        config = json.loads(bundle.files["adapter_config.json"])
        bundle.files["adapter_config.json"] = json.dumps({**config, "r": rank}).encode()
    elif kind == 7:  # some LoRA tensors missing
        state = tensors(data)
        for name in rng.sample(sorted(state), rng.randrange(1, len(state))):
            del state[name]
        bundle.files[WEIGHTS] = safetensors_bytes(state)
    elif kind == 8:  # header JSON made unreadable, sizes kept
        (size,) = struct.unpack("<Q", data[:8])
        bundle.files[WEIGHTS] = data[:8] + b"{" * size + data[8 + size :]
    elif kind == 9:  # trainer_state.json that is JSON but not a ledger
        bundle.files["trainer_state.json"] = json.dumps({"global_step": "all"}).encode()
    elif kind == 10:  # manifest names another base model
        bundle.manifest["base_model"]["fingerprint"] = f"sha256:{rng.getrandbits(256):064x}"
    elif kind == 11:  # manifest names another chat template
        bundle.manifest["chat_template_sha256"] = f"{rng.getrandbits(256):064x}"
    elif kind == 12:  # well formed, but a diverged run's weights: one NaN or infinity
        state = tensors(data)
        name = rng.choice(sorted(state))
        state[name].view(-1)[rng.randrange(state[name].numel())] = rng.choice(
            [float("nan"), float("inf"), float("-inf")]
        )
        bundle.files[WEIGHTS] = safetensors_bytes(state)


def test_hostile_bundles_are_refused_at_resume_before_any_step(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path, capsys
) -> None:
    store = LocalStore(tmp_path / "store")
    cache = tmp_path / "cache"
    # A real bundle mid-run (step 2 of 4, with its optimizer state) to corrupt.
    base = tiny_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "out",
        run_name="source",
        max_steps=4,
        checkpoint_every_steps=2,
        save_optimizer=True,
    )
    run_training(base, store, cache)
    source = f"adapters/source/{list_versions(store, 'source')[0]}/"
    rng = random.Random(20250410)
    marker = tmp_path / "pickle-ran"
    outcomes: list[str] = []
    unclear: list[str] = []
    steps = Steps()
    committed = 0
    for i in range(KINDS * ROUNDS):
        kind = i % KINDS
        if kind == KINDS - 1:  # a name that would escape the adapters/ prefix
            ref = f"{HOSTILE_NAMES[i // KINDS]}@v0001"
        else:
            bundle = Bundle(store, source, f"v{i + 1:04d}")
            corrupt(kind, bundle, rng, marker)
            bundle.commit()
            ref = f"{RUN}@{bundle.manifest['version']}"
        before = list_versions(store, RUN)
        try:
            config = base.with_overrides(run_name=RUN, resume=ref, checkpoint_every_steps=0)
            run_training(config, store, cache, progress=steps)
            outcomes.append("accepted")
        except AdvisorError as exc:
            outcomes.append(type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - counted: refused, but not with a clear error
            outcomes.append(type(exc).__name__)
            unclear.append(f"kind {kind}: {type(exc).__name__}: {str(exc)[:160]}")
        committed += len(list_versions(store, RUN)) - len(before)
    accepted = outcomes.count("accepted")
    clear = len(outcomes) - accepted - len(unclear)
    text = (
        f"{len(outcomes)} hostile bundles ({KINDS} kinds x {ROUNDS}: flipped bit, truncated, "
        "header past EOF, pickle as weights, pickle beside, pickle as optimizer state, rank "
        "too high, tensors missing, unreadable header, not a ledger, another base model, "
        "another chat template, non-finite weights, names escaping the prefix) given as the bundle to resume "
        f"from: {clear} refused with a clear error {dict(sorted(Counter(outcomes).items()))}, "
        f"{len(unclear)} refused with a foreign exception, {accepted} accepted; "
        f"{steps.count} steps trained, {committed} bundles committed, "
        f"pickled code {'RAN' if marker.exists() else 'never ran'}"
    )
    ok = clear == len(outcomes) and steps.count == committed == 0 and not marker.exists()
    with capsys.disabled():
        figure(
            "X6 hostile bundles at the trainer's resume",
            text,
            runs=len(outcomes),
            faults=len(outcomes),
            lost=accepted,
            refused=clear,
            ok=ok,
        )
    assert len(outcomes) >= 100
    assert ok, (text, sorted(set(unclear))[:4])


def test_an_optimizer_state_for_other_tensors_is_refused_with_a_clear_error(
    tiny_model_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    """Well formed and checksummed, but for one tensor fewer (another version's bundle): refused
    before a step, naming the bundle."""
    import torch

    store = LocalStore(tmp_path / "store")
    base = tiny_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "out",
        run_name="source",
        max_steps=4,
        checkpoint_every_steps=2,
        save_optimizer=True,
    )
    run_training(base, store, tmp_path / "cache")
    bundle = Bundle(store, f"adapters/source/{list_versions(store, 'source')[0]}/", "v0001")
    state = torch.load(io.BytesIO(bundle.files["optimizer.pt"]), weights_only=True)
    last = state["param_groups"][0]["params"].pop()
    state["state"].pop(last, None)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    bundle.files["optimizer.pt"] = buffer.getvalue()
    bundle.commit()
    steps = Steps()
    config = base.with_overrides(run_name=RUN, resume=f"{RUN}@v0001")
    with pytest.raises(HandoffMismatchError, match=f"{RUN}@v0001: optimizer.pt does not fit"):
        run_training(config, store, tmp_path / "cache", progress=steps)
    assert steps.count == 0
