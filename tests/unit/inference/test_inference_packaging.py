"""The gateway in front of vLLM must not need torch (its image installs no `hf` extra)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import sys
from pathlib import Path
from advisor_inference.core.config import Settings
from advisor_inference.main import create_app
from advisor_shared.store import LocalStore
settings = Settings(engine="vllm", base_model="mistralai/Mistral-7B-Instruct-v0.3",
                    base_fingerprint="hub:mistralai/Mistral-7B-Instruct-v0.3",
                    api_keys=["k-1"], adapter_dir=Path(sys.argv[1]))
create_app(settings, store=LocalStore(Path(sys.argv[1])))
# The adapter checks read weights too (NaN/inf), through numpy alone.
import json, struct
import numpy as np
from advisor_shared.safetensors_header import non_finite_tensors
header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
weights = Path(sys.argv[1]) / "w.safetensors"
weights.write_bytes(struct.pack("<Q", len(header)) + header + np.array([1, np.nan], "<f4").tobytes())
assert non_finite_tensors(weights) == ["w"]
heavy = sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_vllm_gateway_imports_no_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "none"
