"""The dataset contract: valid lines load, bad lines are reported with file:line and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor_shared.dataset import content_id, load_dataset, write_dataset
from advisor_shared.errors import DatasetError

pytestmark = pytest.mark.unit

GOOD = {
    "id": "a",
    "messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}],
}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_dataset_loads_and_round_trips(tmp_path: Path) -> None:
    record = dict(
        GOOD, topic="visa", messages=[{"role": "system", "content": "S"}, *GOOD["messages"]]
    )
    conversations = load_dataset(_write(tmp_path / "d.jsonl", [json.dumps(record)]))
    assert conversations[0].first_user_turn == "Q?"
    assert conversations[0].assistant_turns() == [(2, "A.")]
    write_dataset(conversations, tmp_path / "copy.jsonl")
    assert load_dataset(tmp_path / "copy.jsonl") == conversations


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD),
        "{not json",
        json.dumps(
            {
                "id": "b",
                "messages": [
                    {"role": "user", "content": "only a question"},
                    {"role": "user", "content": "again"},
                ],
            }
        ),
        "",
        json.dumps(
            {
                "id": "c",
                "messages": [
                    {"role": "robot", "content": "x"},
                    {"role": "assistant", "content": "y"},
                ],
            }
        ),
        json.dumps(GOOD),
        json.dumps({"id": "d", "messages": [{"role": "user", "content": "Q"}]}),
    ]
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == ["2", "3", "5", "6", "7"]
    assert "not valid JSON" in problems[0]
    assert "two user messages in a row" in problems[1]
    assert "messages.0.role" in problems[2]
    assert "duplicate id 'a' (first on line 1)" in problems[3]
    assert "at least 2 items" in problems[4]
    assert all(p.startswith(str(path)) for p in problems)


def test_conversation_without_assistant_turn_is_refused(tmp_path: Path) -> None:
    record = {
        "id": "x",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
    }
    with pytest.raises(DatasetError, match="no assistant turn"):
        load_dataset(_write(tmp_path / "d.jsonl", [json.dumps(record)]))


def test_sharegpt_shape_is_imported(tmp_path: Path) -> None:
    record = {
        "conversations": [
            {"from": "human", "value": "Visa?"},
            {"from": "gpt", "value": "Yes."},
            {"from": "human", "value": "Fee?"},
            {"from": "assistant", "value": "EUR 80."},
        ]
    }
    (conversation,) = load_dataset(_write(tmp_path / "share.jsonl", [json.dumps(record)]))
    assert conversation.id == "share-1"
    assert [m.role for m in conversation.messages] == ["user", "assistant", "user", "assistant"]
    bad = {"conversations": [{"from": "narrator", "value": "x"}]}
    with pytest.raises(DatasetError, match=r"share2.jsonl:1: unknown ShareGPT speaker"):
        load_dataset(_write(tmp_path / "share2.jsonl", [json.dumps(bad)]))


def test_empty_missing_and_binary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="holds no conversations"):
        load_dataset(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(tmp_path / "bin.jsonl")


CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Visa fee?"},
    {"role": "assistant", "content": "EUR 80."},
]


def test_chat_jsonl_without_id_gets_a_stable_id_from_its_messages(tmp_path: Path) -> None:
    """The OpenAI/TRL chat JSONL: `{"messages": [...]}` and nothing else."""
    other = [{"role": "user", "content": "Deadline?"}, {"role": "assistant", "content": "May."}]
    lines = [json.dumps({"messages": CHAT}), json.dumps({"messages": other})]
    first = load_dataset(_write(tmp_path / "a.jsonl", lines))
    again = load_dataset(_write(tmp_path / "b.jsonl", lines[::-1]))
    assert first[0].id == content_id(CHAT) and first[0].id.startswith("sha256-")
    assert {c.id for c in first} == {c.id for c in again}  # same content, same id, any order
    assert len({c.id for c in first}) == 2
    copy = write_dataset(first, tmp_path / "copy.jsonl")
    assert copy == 2 and load_dataset(tmp_path / "copy.jsonl") == first


def test_unknown_keys_are_kept_in_meta(tmp_path: Path) -> None:
    record = {"messages": CHAT, "source": "forum", "score": 4, "meta": {"lang": "en"}}
    (conversation,) = load_dataset(_write(tmp_path / "d.jsonl", [json.dumps(record)]))
    assert conversation.meta == {"lang": "en", "source": "forum", "score": 4}
    clash = {"messages": CHAT, "lang": "de", "meta": {"lang": "en"}}
    with pytest.raises(DatasetError, match=r"d2.jsonl:1: key 'lang' is both a top-level key"):
        load_dataset(_write(tmp_path / "d2.jsonl", [json.dumps(clash)]))


def test_a_repeated_conversation_without_id_is_named_as_such(tmp_path: Path) -> None:
    lines = [json.dumps({"messages": CHAT})] * 2 + ['{"messages": [{"role": "user"}]}']
    with pytest.raises(DatasetError) as caught:
        load_dataset(_write(tmp_path / "d.jsonl", lines))
    repeated, bad = caught.value.problems
    assert repeated.startswith(f"{tmp_path / 'd.jsonl'}:2: the same conversation as line 1")
    assert bad.startswith(f"{tmp_path / 'd.jsonl'}:3: messages")
