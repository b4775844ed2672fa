"""The defensive safetensors header parser refuses each hostile shape with a clear reason."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from advisor_shared.errors import BundleError
from advisor_shared.safetensors_header import inspect_safetensors

pytestmark = pytest.mark.unit


def _file(path: Path, header: object, data: bytes = b"", declared: int | None = None) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if declared is None else declared) + raw + data)
    return path


def test_valid_header_is_read(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {}}
    tensors = inspect_safetensors(_file(tmp_path / "ok.safetensors", header, b"\0" * 24))
    assert tensors["w"].shape == (2, 3) and tensors["w"].dtype == "F32"


@pytest.mark.parametrize(
    ("header", "data", "declared", "reason"),
    [
        ({}, b"", 10**6, "past the end of the file"),
        ({}, b"", 2**40, "exceeds the limit"),
        (
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}},
            b"\0" * 8,
            None,
            "outside",
        ),
        (
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}},
            b"\0" * 8,
            None,
            "disagrees",
        ),
        ({"w": {"dtype": "PICKLE", "shape": [1], "data_offsets": [0, 1]}}, b"\0", None, "dtype"),
        ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"", None, "shape"),
        ([1, 2], b"", None, "not a JSON object"),
        (
            {
                "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
            },
            b"\0" * 6,
            None,
            "overlap",
        ),
    ],
)
def test_hostile_headers_are_refused(tmp_path, header, data, declared, reason) -> None:
    with pytest.raises(BundleError, match=reason):
        inspect_safetensors(_file(tmp_path / "bad.safetensors", header, data, declared))


def test_tiny_and_non_json_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "tiny").write_bytes(b"\x01\x02")
    with pytest.raises(BundleError, match="truncated"):
        inspect_safetensors(tmp_path / "tiny")
    (tmp_path / "garbage").write_bytes(struct.pack("<Q", 4) + b"\xff\xfe\x00\x01")
    with pytest.raises(BundleError, match="not valid JSON"):
        inspect_safetensors(tmp_path / "garbage")
