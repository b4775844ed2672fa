"""Defensive parsing of an untrusted safetensors header (docs/reliability.md, F6).

The format: 8-byte little-endian header length N, N bytes of JSON, then the tensor data.
A hostile file can claim a header past the end of the file, overlapping or out-of-bounds
tensors, or a gigantic header; each is refused here before any loader touches the file.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import BundleError

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference implementation's own limit
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
# Float formats: the unsigned integer of the same width, and its exponent bits. All of them
# set means an infinity or a NaN, whatever the mantissa.
FLOAT_EXPONENT_BITS = {
    "F16": ("<u2", 0x7C00),
    "BF16": ("<u2", 0x7F80),
    "F32": ("<u4", 0x7F800000),
    "F64": ("<u8", 0x7FF0000000000000),
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


def inspect_safetensors(path: Path) -> dict[str, TensorInfo]:
    """Validate the file's header against its size and return the tensors it declares."""
    size = Path(path).stat().st_size
    name = Path(path).name
    if size < 8:
        raise BundleError(f"{name}: truncated safetensors file ({size} bytes)")
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        if header_len > MAX_HEADER_BYTES:
            raise BundleError(f"{name}: safetensors header of {header_len} bytes exceeds the limit")
        if 8 + header_len > size:
            raise BundleError(f"{name}: safetensors header extends past the end of the file")
        raw = handle.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(f"{name}: safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise BundleError(f"{name}: safetensors header is not a JSON object")
    data_size = size - 8 - header_len
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int]] = []
    for tensor_name, entry in header.items():
        if tensor_name == "__metadata__":
            continue
        tensors[tensor_name] = _check_entry(name, tensor_name, entry, data_size)
        spans.append((entry["data_offsets"][0], entry["data_offsets"][1]))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise BundleError(f"{name}: tensors overlap in the data section")
    return tensors


def _check_entry(name: str, tensor_name: str, entry: object, data_size: int) -> TensorInfo:
    if not isinstance(entry, dict):
        raise BundleError(f"{name}: tensor {tensor_name[:100]!r} has a malformed entry")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise BundleError(f"{name}: tensor {tensor_name[:100]!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BundleError(f"{name}: tensor {tensor_name[:100]!r} has an invalid shape")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise BundleError(f"{name}: tensor {tensor_name[:100]!r} points outside the file")
    if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise BundleError(f"{name}: tensor {tensor_name[:100]!r} size disagrees with its shape")
    return TensorInfo(dtype=dtype, shape=tuple(shape))


def non_finite_tensors(path: Path) -> list[str]:
    """Names of the float tensors of `path` holding a NaN or an infinity, read through a memory
    map without any tensor library. Call it on a file `inspect_safetensors` accepted."""
    import numpy as np

    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    start = 8 + header_len
    if Path(path).stat().st_size == start:
        return []
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=start)
    found = []
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in FLOAT_EXPONENT_BITS:
            continue
        kind, exponent = FLOAT_EXPONENT_BITS[entry["dtype"]]
        begin, end = entry["data_offsets"]
        values = data[begin:end].view(kind)
        if bool(np.any((values & exponent) == exponent)):
            found.append(name)
    return found
