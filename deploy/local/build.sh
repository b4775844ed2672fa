#!/usr/bin/env bash
# The images of compose.yaml + compose.local.yaml, built on a host that can reach PyPI and
# Debian but no registry and no PyTorch index:
#   1. writes compose.local.rendered.yaml (Compose v1 reads no !reset: compose_v1.py);
#   2. downloads torch's CPU build and what it needs with this host's pip, refusing a CUDA
#      build (it would be gigabytes), into .cache/torch-index/, and serves them on loopback as
#      the index the Dockerfiles' TORCH_INDEX_URL names;
#   3. docker-compose --profile train build (cached layers make a second build take seconds).
#   deploy/local/build.sh [SERVICE...]       # needs .env (compose interpolates it), or
#   ENV_FILE=path/to/env deploy/local/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
ENV_FILE=${ENV_FILE:-.env}
PORT=${TORCH_INDEX_PORT:-18099}
TORCH_VERSION=$(sed -n 's/^ARG TORCH_VERSION=//p' services/evaluator/Dockerfile)
INDEX=.cache/torch-index

"$PYTHON" deploy/local/compose_v1.py compose.yaml compose.local.yaml -o compose.local.rendered.yaml

if [ ! -f "$INDEX/.complete-$TORCH_VERSION" ]; then
  rm -rf "$INDEX" && mkdir -p "$INDEX/files"
  # The images run Debian's CPython 3.11 on x86-64 glibc: wheels for exactly that.
  "$PYTHON" -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d "$INDEX/files" "torch==$TORCH_VERSION"
  if ls "$INDEX/files" | grep -qiE '^(nvidia|triton)'; then
    echo "this host's pip resolves torch==$TORCH_VERSION to a CUDA build; point it at the CPU build" >&2
    exit 1
  fi
  "$PYTHON" - "$INDEX" <<'PY'
# A PEP 503 "simple" index: one folder per normalised project name, its files inside.
import os, re, sys
from pathlib import Path
index = Path(sys.argv[1])
for wheel in (index / "files").glob("*.whl"):
    project = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
    (index / "simple" / project).mkdir(parents=True, exist_ok=True)
    os.link(wheel, index / "simple" / project / wheel.name)
PY
  touch "$INDEX/.complete-$TORCH_VERSION"
fi
du -sh "$INDEX/files" | sed 's/^/torch CPU wheels: /'

"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$INDEX/simple" "$PORT" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
export LOCAL_TORCH_INDEX_URL="http://127.0.0.1:$PORT/"
# `--profile train`: the trainer API and worker are in that profile, and Compose builds only
# the services of the profiles it is given.
COMPOSE_FILE=compose.local.rendered.yaml nice -n 10 docker-compose --env-file "$ENV_FILE" \
  --profile train build "$@"
