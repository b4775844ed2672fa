"""Datasets as users have them: parquet, Arrow (stream and file) and `save_to_disk` folders load
like JSONL, bad rows are reported as `file:row: reason`, and a missing optional library is one
line naming the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from advisor_shared.dataset import content_id, load_dataset
from advisor_shared.dataset_cli import app as data_app
from advisor_shared.errors import DatasetError

pytestmark = pytest.mark.unit


def chat(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


ROWS: list[dict[str, Any]] = [
    {"messages": chat("Visa fee?", "EUR 80."), "source": "forum"},
    {
        "messages": [{"role": "system", "content": "Be brief."}, *chat("Deadline?", "15 March.")],
        "source": None,
    },
]


def test_parquet_file_loads_with_ids_and_meta(tmp_path: Path) -> None:
    rows = [ROWS[0], {"messages": chat("Deadline?", "15 March."), "source": None}]
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    first, second = load_dataset(path)
    assert first.id == content_id(ROWS[0]["messages"]) and first.meta == {"source": "forum"}
    assert second.meta is None  # a null column is an absent key, not meta {"source": None}


def test_arrow_stream_and_file_load(tmp_path: Path) -> None:
    table = pa.Table.from_pylist([{"id": 7, "messages": chat("Visa fee?", "EUR 80.")}])
    stream, file = tmp_path / "data-00000-of-00001.arrow", tmp_path / "feather.arrow"
    with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with pa.OSFile(str(file), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert [c.id for c in load_dataset(stream)] == ["7"]
    assert load_dataset(file) == load_dataset(stream)
    (tmp_path / "junk.arrow").write_bytes(b"not arrow at all")
    with pytest.raises(DatasetError, match="junk.arrow: not an Arrow IPC file or stream"):
        load_dataset(tmp_path / "junk.arrow")


def test_save_to_disk_folders_load_and_pick_a_split(tmp_path: Path) -> None:
    import datasets

    single = datasets.Dataset.from_list([{"messages": chat("Visa fee?", "EUR 80.")}])
    single.save_to_disk(str(tmp_path / "single"))
    assert len(load_dataset(tmp_path / "single")) == 1
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS), "test": single})
    splits.save_to_disk(str(tmp_path / "splits"))
    train = load_dataset(tmp_path / "splits")
    assert [m.role for m in train[1].messages] == ["system", "user", "assistant"]
    assert [c.meta for c in train] == [{"source": "forum"}, None]
    assert len(load_dataset(tmp_path / "splits", split="test")) == 1
    with pytest.raises(DatasetError, match=r"no split 'dev'; choose one of test, train"):
        load_dataset(tmp_path / "splits", split="dev")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: not a folder written by save_to_disk"):
        load_dataset(tmp_path / "empty")


def test_bad_rows_are_reported_with_their_row_number(tmp_path: Path) -> None:
    weighted = [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "A.", "weight": 0},
    ]
    rows = [
        {"messages": chat("Visa fee?", "EUR 80.")},
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": chat("Visa fee?", "EUR 80.")},
        # OpenAI's per-message `weight` is not honoured, so it is refused, not ignored; the
        # other rows' messages have a null `weight` column, which means absent.
        {"messages": weighted},
    ]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert caught.value.problems == [
        f"{path}:2: messages: List should have at least 2 items after validation, not 1",
        f"{path}:3: the same conversation as line 1 (no id given; its id "
        f"{content_id(rows[0]['messages'])!r} is a hash of the messages)",
        f"{path}:4: messages.1.weight: Extra inputs are not permitted",
    ]


def test_a_missing_library_is_one_line_naming_the_extra(tmp_path, monkeypatch) -> None:
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.Table.from_pylist([ROWS[0]]), path)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import now raises ImportError
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert caught.value.problems == [
        f"{path}: reading parquet needs the 'pyarrow' package: pip install 'advisor-shared[data]'"
    ]
    monkeypatch.setitem(sys.modules, "datasets", None)
    (tmp_path / "folder").mkdir()
    with pytest.raises(DatasetError, match="needs the 'datasets' package"):
        load_dataset(tmp_path / "folder")


def test_data_import_writes_the_contract_jsonl(tmp_path: Path) -> None:
    source, target = tmp_path / "chat.parquet", tmp_path / "out" / "train.jsonl"
    pq.write_table(pa.Table.from_pylist(ROWS), source)
    result = CliRunner().invoke(data_app, ["import", str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert load_dataset(target) == load_dataset(source)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"messages": chat("Q?", "A.")[:1]}]), bad)
    refused = CliRunner().invoke(data_app, ["import", str(bad), str(tmp_path / "x")])
    assert refused.exit_code == 1 and f"{bad}:1: messages" in refused.output
    assert not (tmp_path / "x").exists()
