"""Reading conversations from the columnar formats users already have: a parquet file, an
Arrow file (IPC file or stream, as `datasets` writes its shards) and a folder written by
`datasets`' `save_to_disk` (one dataset, or several splits).

The libraries are optional (`pip install 'advisor-shared[data]'`): pyarrow reads the files,
`datasets` the folders. Without them the reader fails with one line naming the extra.
Rows are yielded one at a time with their 1-based number, so a bad row is reported as
`file:row: reason` like a bad JSONL line, and a large file is never held whole as Python
objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DatasetError

DATA_EXTRA = "pip install 'advisor-shared[data]'"
COLUMNAR_SUFFIXES = (".parquet", ".arrow")
DEFAULT_SPLIT = "train"
_BATCH_ROWS = 1024


def is_columnar(path: Path) -> bool:
    """Whether `path` is read by this module rather than as JSONL."""
    return Path(path).is_dir() or Path(path).suffix.lower() in COLUMNAR_SUFFIXES


def _require(module: str, package: str, path: Path, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DatasetError(
            [f"{path}: reading {what} needs the {package!r} package: {DATA_EXTRA}"]
        ) from None


def read_rows(path: Path, split: str | None = None) -> tuple[str, Iterator[tuple[int, Any]]]:
    """(source name for messages, iterator of (row number, row as a dict)) for `path`."""
    path = Path(path)
    if path.is_dir():
        return _dataset_folder_rows(path, split)
    if not path.is_file():
        raise DatasetError([f"{path}: no such file"])
    if split is not None:
        raise DatasetError([f"{path}: --split applies to a datasets folder, not to a file"])
    if path.suffix.lower() == ".parquet":
        return str(path), _parquet_rows(path)
    return str(path), _arrow_rows(path)


def _numbered(batches: Iterator[Any]) -> Iterator[tuple[int, Any]]:
    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            number += 1
            yield number, without_nulls(row)


def without_nulls(row: Any) -> Any:
    """A columnar row with its null fields removed: a column exists for every row once one
    row has it, so null there means absent (an unknown key, a message without `name`)."""
    if not isinstance(row, dict):
        return row
    cleaned = {key: value for key, value in row.items() if value is not None}
    messages = cleaned.get("messages")
    if isinstance(messages, list):
        cleaned["messages"] = [
            {k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m
            for m in messages
        ]
    return cleaned


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    parquet = _require("pyarrow.parquet", "pyarrow", path, "parquet")
    import pyarrow as pa

    try:
        handle = parquet.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError([f"{path}: not a readable parquet file ({exc})"]) from None
    return _numbered(handle.iter_batches(batch_size=_BATCH_ROWS))


def _arrow_rows(path: Path) -> Iterator[tuple[int, Any]]:
    pa = _require("pyarrow", "pyarrow", path, "Arrow files")
    # `datasets` writes the IPC stream format; Feather v2 and others write the IPC file format.
    for opener in (pa.ipc.open_file, pa.ipc.open_stream):
        try:
            reader = opener(pa.memory_map(str(path)))
        except (pa.ArrowException, OSError):
            continue
        if hasattr(reader, "num_record_batches"):
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            return _numbered(batches)
        return _numbered(iter(reader))
    raise DatasetError([f"{path}: not an Arrow IPC file or stream"])


def _dataset_folder_rows(path: Path, split: str | None) -> tuple[str, Iterator[tuple[int, Any]]]:
    datasets = _require("datasets", "datasets", path, "a datasets folder")
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise DatasetError([f"{path}: not a folder written by save_to_disk ({message})"]) from None
    if isinstance(loaded, datasets.DatasetDict):
        names = sorted(loaded)
        chosen = split or (DEFAULT_SPLIT if DEFAULT_SPLIT in loaded else None)
        if chosen is None and len(names) == 1:
            chosen = names[0]
        if chosen is None or chosen not in loaded:
            asked = f"no split {chosen!r}" if chosen else "several splits and none is 'train'"
            raise DatasetError([f"{path}: {asked}; choose one of {', '.join(names)} with --split"])
        source = f"{path}[{chosen}]"
        table = loaded[chosen]
    else:
        if split is not None:
            raise DatasetError([f"{path}: holds one dataset, no splits (drop --split)"])
        source, table = str(path), loaded
    return source, _numbered(table.with_format("arrow").iter(batch_size=_BATCH_ROWS))
