#!/usr/bin/env bash
# Writes services/trainer/constraints-gpu.txt: every package the trainer image installs next to
# torch, pinned, for CPython 3.12 on manylinux x86_64 (the image's Ubuntu 24.04).
#
# Why a lock of its own: the `gpu` extra pins the stack the GPU benchmarks ran with, and Unsloth
# 2026.10.9 accepts only transformers <= 5.17.0 and datasets < 5, which need huggingface_hub < 2
# and fsspec <= 2026.2.0; constraints.txt (the CPU stack the tests run) pins newer ones. The
# lock keeps constraints.txt's versions everywhere else.
#
# torch and torchvision come from the PyTorch CUDA index in the image, with their CUDA
# libraries; pip resolves against a stand-in torch wheel of the same version without
# dependencies, so that PyPI's CUDA packages of torch stay out of the lock.
#
#   services/trainer/gpu_lock.sh        (needs pip and PyPI; takes about a minute)
set -euo pipefail
cd "$(dirname "$0")/../.."
TORCH_VERSION=$(sed -n 's/^ARG TORCH_VERSION=//p' services/trainer/Dockerfile)
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stub="$work/wheel"
mkdir -p "$stub/torch" "$stub/torch-${TORCH_VERSION}+stub.dist-info" "$work/links"
: > "$stub/torch/__init__.py"
printf 'Metadata-Version: 2.1\nName: torch\nVersion: %s+stub\n' "$TORCH_VERSION" \
  > "$stub/torch-${TORCH_VERSION}+stub.dist-info/METADATA"
printf 'Wheel-Version: 1.0\nGenerator: gpu_lock.sh\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
  > "$stub/torch-${TORCH_VERSION}+stub.dist-info/WHEEL"
printf 'torch/__init__.py,,\ntorch-%s+stub.dist-info/METADATA,,\ntorch-%s+stub.dist-info/WHEEL,,\ntorch-%s+stub.dist-info/RECORD,,\n' \
  "$TORCH_VERSION" "$TORCH_VERSION" "$TORCH_VERSION" > "$stub/torch-${TORCH_VERSION}+stub.dist-info/RECORD"
(cd "$stub" && "$PYTHON" -m zipfile -c "$work/links/torch-${TORCH_VERSION}+stub-py3-none-any.whl" torch "torch-${TORCH_VERSION}+stub.dist-info")

# constraints.txt without what the GPU stack resolves differently (and torch, from the index).
grep -v -i -E '^(torch|transformers|peft|datasets|huggingface[-_]hub|fsspec)==' constraints.txt \
  > "$work/constraints.txt"

"$PYTHON" -m pip install --dry-run --ignore-installed --quiet --report "$work/report.json" \
  --find-links "$work/links" -c "$work/constraints.txt" \
  --python-version 3.12 --implementation cp --only-binary=:all: --target "$work/target" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  "torch==${TORCH_VERSION}" "./shared[models]" "./services/trainer[gpu,tensorboard]"

"$PYTHON" - "$work/report.json" > services/trainer/constraints-gpu.txt <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
print("# The trainer image's lock: written by services/trainer/gpu_lock.sh, do not edit.")
print("# torch and torchvision are installed from the PyTorch CUDA index before it (Dockerfile).")
skip = {"torch", "torchvision", "advisor-shared", "advisor-trainer"}
pins = sorted(
    (item["metadata"]["name"], item["metadata"]["version"])
    for item in report["install"]
    if item["metadata"]["name"].lower() not in skip
)
for name, version in sorted(pins, key=lambda pin: pin[0].lower()):
    print(f"{name}=={version}")
PY
echo "wrote services/trainer/constraints-gpu.txt ($(grep -c '==' services/trainer/constraints-gpu.txt) pins)"
