#!/usr/bin/env bash
# Wheels the GPU benchmark host lacks (../shared/GPU.md lists what it has), downloaded into
# .whl/ (git-ignored) for CPython 3.12 manylinux x86_64 and trimmed to fit the 64 MiB tree that
# travels: Unsloth without its web UI (`studio/`, never imported by training), bitsandbytes
# with only its CUDA 13 and CPU libraries (the host runs torch cu130). On the host:
#   pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
download() {
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$@"
}
# Unsloth and what it needs there (GPU.md).
download unsloth==2026.10.9 unsloth_zoo==2026.10.9 bitsandbytes==0.50.2 trl==1.15.0 \
  datasets==4.8.5 torchao==0.18.0 dill multiprocess tyro docstring-parser typeguard shtab \
  cut-cross-entropy msgspec hf-transfer json5 nest-asyncio structlog
# advisor_shared / advisor_trainer / advisor_inference imports (versions of constraints.txt).
download pydantic==2.14.4 pydantic-settings==2.16.3 python-dotenv==1.2.4 typer==0.29.2 \
  shellingham==1.5.4 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 annotated-doc==0.0.7 \
  annotated-types==0.8.0 typing-inspection==0.4.5 PyYAML==6.0.4 fastapi==0.165.0 \
  starlette==1.10.0 anyio==4.16.0 sniffio==1.3.1 idna==3.20 h11==0.16.0 prometheus_client==0.26.0 \
  opentelemetry-api==1.45.2 importlib-metadata zipp
core=$(unzip -p .whl/pydantic-2*.whl '*/METADATA' | sed -n 's/^Requires-Dist: pydantic-core==\([^ ;]*\).*/\1/p')
download "pydantic-core==${core}"

repack() {  # repack WHEEL without the members matching the zip patterns that follow
  local wheel=$1; shift
  local dir; dir=$(mktemp -d)
  unzip -q "$wheel" -d "$dir"
  (cd "$dir" && for pattern in "$@"; do rm -rf $pattern; done && rm -f "$OLDPWD/$wheel" && zip -qr -X "$OLDPWD/$wheel" .)
  rm -rf "$dir"
}
repack "$(ls .whl/unsloth-2026*.whl)" studio
repack "$(ls .whl/bitsandbytes-*.whl)" 'bitsandbytes/libbitsandbytes_cuda1[0-2]*' \
  'bitsandbytes/libbitsandbytes_rocm*' 'bitsandbytes/libbitsandbytes_xpu*'
du -sh .whl
