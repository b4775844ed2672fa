"""Adapter bundles out of a running trainer: snapshot at a step boundary, write, upload.

A snapshot copies the adapter weights (and optionally the optimizer state) to host memory at
the step boundary: 0.08-0.25 s for the 167.8 MB adapter of a 7B model on the H200, the only
part the training thread waits for (benchmarks/results/trainer_gpu.json). Writing the files and
uploading them, the slow part, can then run in a background thread while training continues
(`asynchronous=True`), so periodic bundles stay off the critical path. Uploads go through `advisor_shared.bundle.write_bundle`: files first,
manifest last, so an upload cut short is never read as a bundle (docs/reliability.md, F8).
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from advisor_shared.bundle import BundleRef, write_bundle
from advisor_shared.store import ObjectStore


@dataclass
class BundleSnapshot:
    """Everything a bundle holds, detached from the live model and optimizer."""

    global_step: int
    adapter_state: dict[str, Any]
    adapter_config: Any  # a peft LoraConfig copy
    chat_template: str
    ledger: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class BundleIdentity:
    """What the manifest says the adapter was trained against."""

    run_name: str
    base_model_id: str
    base_fingerprint: str
    chat_template_sha256: str


def take_snapshot(
    model: Any,
    *,
    global_step: int,
    chat_template: str,
    ledger: dict[str, Any],
    base_model_id: str,
    optimizer: Any | None = None,
) -> BundleSnapshot:
    """Copy the adapter (and optimizer) state to the CPU at a step boundary."""
    from peft import get_peft_model_state_dict

    state = {
        key: tensor.detach().to("cpu", copy=True).contiguous()
        for key, tensor in get_peft_model_state_dict(model).items()
    }
    adapter_config = copy.deepcopy(model.peft_config["default"])
    # The manifest carries the base model's identity; a local cache path would leak the
    # machine's layout into a bundle meant for any machine.
    adapter_config.base_model_name_or_path = base_model_id
    optimizer_state = optimizer_snapshot(optimizer) if optimizer is not None else None
    return BundleSnapshot(
        global_step, state, adapter_config, chat_template, copy.deepcopy(ledger), optimizer_state
    )


def optimizer_snapshot(optimizer: Any) -> dict[str, Any]:
    """The optimizer's state dict copied to host memory: what `optimizer.pt` holds."""
    state: dict[str, Any] = _to_cpu(optimizer.state_dict())
    return state


def _to_cpu(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return copy.deepcopy(value)


def write_snapshot_files(snapshot: BundleSnapshot, folder: Path) -> Path:
    """The bundle's files in `folder`: PEFT adapter, template, ledger, optional optimizer."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(snapshot.adapter_state, str(folder / "adapter_model.safetensors"), {"format": "pt"})
    snapshot.adapter_config.save_pretrained(str(folder))
    (folder / "chat_template.jinja").write_text(snapshot.chat_template, encoding="utf-8")
    (folder / "trainer_state.json").write_text(json.dumps(snapshot.ledger, indent=1))
    if snapshot.optimizer_state is not None:
        torch.save(snapshot.optimizer_state, folder / "optimizer.pt")
    return folder


def library_versions() -> dict[str, str]:
    found = {}
    for name in ("advisor-trainer", "torch", "transformers", "peft", "bitsandbytes", "unsloth"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


class BundleWriter:
    """Writes snapshots as bundle versions, in order, in the caller's thread or a background one.

    At most one upload runs at a time: a new snapshot waits for the previous upload, so
    versions are allocated in step order and memory holds at most two snapshots.
    """

    def __init__(
        self,
        store: ObjectStore,
        identity: BundleIdentity,
        staging_root: Path,
        *,
        parent: str | None = None,
    ):
        self.store, self.identity, self.staging_root = store, identity, Path(staging_root)
        self.parent = parent
        self.last_ref: BundleRef | None = None
        self.last_write_s: float | None = None
        self.written: list[tuple[int, BundleRef]] = []
        self.write_times: list[tuple[int, float]] = []  # (step, seconds) of every write
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, snapshot: BundleSnapshot) -> BundleRef:
        """Write now, in this thread (after any upload still running)."""
        self.wait()
        self._write(snapshot)
        self._raise_pending()
        assert self.last_ref is not None
        return self.last_ref

    def submit(self, snapshot: BundleSnapshot) -> None:
        """Write in a background thread; errors surface at the next `wait`/`write`/`submit`."""
        self.wait()
        self._thread = threading.Thread(
            target=self._write, args=(snapshot,), name="bundle-upload", daemon=True
        )
        self._thread.start()

    def wait(self) -> BundleRef | None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._raise_pending()
        return self.last_ref

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self, snapshot: BundleSnapshot) -> None:
        started = time.monotonic()
        folder = self.staging_root / f"step-{snapshot.global_step:07d}"
        try:
            shutil.rmtree(folder, ignore_errors=True)
            write_snapshot_files(snapshot, folder)
            ref = write_bundle(
                self.store,
                self.identity.run_name,
                folder,
                base_model_id=self.identity.base_model_id,
                base_fingerprint=self.identity.base_fingerprint,
                chat_template_sha256=self.identity.chat_template_sha256,
                libraries=library_versions(),
                parent=self.parent,
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the training thread
            self._error = exc
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.last_ref, self.parent = ref, str(ref)
        self.written.append((snapshot.global_step, ref))
        self.last_write_s = time.monotonic() - started
        self.write_times.append((snapshot.global_step, self.last_write_s))
