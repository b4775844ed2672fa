"""What `save_optimizer: true` (the default) adds to a bundle of the 7B adapter.

Builds the LoRA tensors of r=16 on the seven projections of a Mistral-7B-v0.3 shape (448 tensors,
41,943,040 parameters, fp32 as the trainer keeps them), takes one optimizer step with random
gradients, and writes the bundle files through the trainer's own code
(`advisor_trainer.checkpoints.writer`): `adapter_model.safetensors` and `optimizer.pt`. It measures
their sizes for bitsandbytes' 8-bit AdamW (the GPU backends' `adamw_8bit`) and torch's AdamW (32-bit
moments: `adamw_torch`, and what `cpu-lora` runs), and compares them with the sizes the optimizers'
state layout predicts. No GPU is needed: bitsandbytes' 8-bit optimizer lays out the same state on
the CPU (`pip install bitsandbytes==0.50.2`; without it only torch's AdamW is measured).

    python benchmarks/optimizer_state_size.py --out benchmarks/results/optimizer_state_size.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COMMAND = (
    ".venv/bin/python benchmarks/optimizer_state_size.py "
    "--out benchmarks/results/optimizer_state_size.json"
)
# Mistral-7B-v0.3: hidden 4096, 8 KV heads of 128, MLP 14336, 32 layers.
HIDDEN, KV, MLP, LAYERS = 4096, 1024, 14336, 32
PROJECTIONS = {  # name: (in_features, out_features)
    "self_attn.q_proj": (HIDDEN, HIDDEN),
    "self_attn.k_proj": (HIDDEN, KV),
    "self_attn.v_proj": (HIDDEN, KV),
    "self_attn.o_proj": (HIDDEN, HIDDEN),
    "mlp.gate_proj": (HIDDEN, MLP),
    "mlp.up_proj": (HIDDEN, MLP),
    "mlp.down_proj": (MLP, HIDDEN),
}
# bitsandbytes' blockwise 8-bit state: one fp32 absmax per 256 values of each moment, and a
# 256-entry fp32 quantisation map per moment (copied per tensor when the state is snapshotted).
BNB_BLOCK, BNB_QMAP = 256, 256


def lora_parameters(rank: int) -> dict[str, Any]:
    import torch

    params = {}
    for layer in range(LAYERS):
        for name, (fan_in, fan_out) in PROJECTIONS.items():
            prefix = f"base_model.model.model.layers.{layer}.{name}"
            params[f"{prefix}.lora_A.weight"] = torch.nn.Parameter(torch.zeros(rank, fan_in))
            params[f"{prefix}.lora_B.weight"] = torch.nn.Parameter(torch.zeros(fan_out, rank))
    return params


def predicted_bytes(kind: str, numels: list[int]) -> int:
    """optimizer.pt's tensor bytes from the state layout (pickle framing not counted)."""
    if kind == "adamw_torch":  # exp_avg + exp_avg_sq in fp32, a scalar step per tensor
        return sum(2 * 4 * n + 4 for n in numels)
    blocks = [-(-n // BNB_BLOCK) for n in numels]  # ceil
    return sum(2 * n + 2 * 4 * b + 2 * 4 * BNB_QMAP for n, b in zip(numels, blocks, strict=True))


def measure(kind: str, rank: int, work: Path) -> dict[str, Any]:
    import torch
    from peft import LoraConfig

    from advisor_trainer.checkpoints.writer import (
        BundleSnapshot,
        optimizer_snapshot,
        write_snapshot_files,
    )

    params = lora_parameters(rank)
    torch.manual_seed(0)
    for p in params.values():
        p.data.normal_(std=0.01)
        p.grad = torch.randn_like(p)
    if kind == "adamw_8bit":
        import bitsandbytes as bnb

        optimizer = bnb.optim.AdamW8bit(list(params.values()), lr=2e-4, weight_decay=0.0)
    else:
        optimizer = torch.optim.AdamW(list(params.values()), lr=2e-4, weight_decay=0.0)
    optimizer.step()
    snapshot = BundleSnapshot(
        global_step=1,
        adapter_state={k: v.detach().clone() for k, v in params.items()},
        adapter_config=LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj"]),
        chat_template="{{ messages }}",
        ledger={},
        optimizer_state=optimizer_snapshot(optimizer),
    )
    folder = write_snapshot_files(snapshot, work / kind)
    numels = [p.numel() for p in params.values()]
    sizes = {f.name: f.stat().st_size for f in sorted(folder.iterdir())}
    adapter, optimizer_file = sizes["adapter_model.safetensors"], sizes["optimizer.pt"]
    return {
        "optimizer": kind,
        "tensors": len(numels),
        "trainable_parameters": sum(numels),
        "adapter_model_safetensors_bytes": adapter,
        "optimizer_pt_bytes": optimizer_file,
        "optimizer_pt_predicted_bytes": predicted_bytes(kind, numels),
        "bundle_files_bytes": sum(sizes.values()),
        "optimizer_share_of_bundle": round(optimizer_file / sum(sizes.values()), 4),
        "bundle_growth_vs_without_optimizer": round(
            sum(sizes.values()) / (sum(sizes.values()) - optimizer_file), 4
        ),
        "files": sizes,
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/optimizer_state_size.json"
    )
    args = parser.parse_args()
    kinds = ["adamw_torch"] + (["adamw_8bit"] if _version("bitsandbytes") != "absent" else [])
    work = Path(tempfile.mkdtemp(prefix="optimizer-size-"))
    try:
        runs = {kind: measure(kind, args.rank, work) for kind in kinds}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "what": "bundle files of the Mistral-7B r=16 adapter with optimizer.pt, per optimizer",
        "shape": {"hidden": HIDDEN, "kv": KV, "mlp": MLP, "layers": LAYERS, "rank": args.rank},
        "runs": runs,
        "versions": {name: _version(name) for name in ("torch", "peft", "bitsandbytes")},
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": COMMAND,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for kind, run in runs.items():
        print(
            f"{kind}: adapter {run['adapter_model_safetensors_bytes'] / 1e6:.1f} MB, "
            f"optimizer.pt {run['optimizer_pt_bytes'] / 1e6:.1f} MB "
            f"(layout predicts {run['optimizer_pt_predicted_bytes'] / 1e6:.1f} MB), "
            f"bundle x{run['bundle_growth_vs_without_optimizer']}"
        )


if __name__ == "__main__":
    main()
