"""Prompts are prefilled in groups of similar length, so padding wastes at most a bounded
share of each row's work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from advisor_inference.engines.hf.batch import length_groups, shared_prefix

pytestmark = pytest.mark.unit


def rows(*lengths: int) -> list:
    return [SimpleNamespace(prompt_ids=[0] * n, name=f"r{n}") for n in lengths]


def test_prompts_within_the_slack_of_the_longest_share_a_prefill() -> None:
    groups = length_groups(rows(600, 850, 460, 800, 820, 470), slack=0.15)
    assert [[len(r.prompt_ids) for r in g] for g in groups] == [[850, 820, 800], [600], [470, 460]]


def test_padding_is_bounded_by_the_slack() -> None:
    lengths = [37, 52, 400, 410, 700, 733, 760, 512, 90, 91]
    for group in length_groups(rows(*lengths), slack=0.2):
        width = len(group[0].prompt_ids)
        assert all(len(r.prompt_ids) >= 0.8 * width for r in group)
    assert sorted(len(r.prompt_ids) for g in length_groups(rows(*lengths)) for r in g) == sorted(
        lengths
    )


def test_equal_prompts_stay_one_batch() -> None:
    assert len(length_groups(rows(40, 40, 40, 40))) == 1


def prompts(*ids: list[int], adapter: str | None = None) -> list:
    return [SimpleNamespace(prompt_ids=list(p), adapter=adapter) for p in ids]


def test_a_long_shared_start_is_found_and_leaves_each_row_a_token() -> None:
    rubric = list(range(100, 160))  # 60 shared tokens
    rows_ = prompts(rubric + [1, 2, 3], rubric + [1, 9], rubric + [7])
    assert shared_prefix(rows_) == 60
    # identical prompts share all but their last token
    assert shared_prefix(prompts(rubric, rubric)) == 59


def test_no_shared_start_below_the_minimum_across_adapters_or_alone() -> None:
    short = list(range(10))
    assert shared_prefix(prompts(short + [1], short + [2])) == 0
    rubric = list(range(100, 160))
    mixed = prompts(rubric + [1]) + prompts(rubric + [2], adapter="lora")
    assert shared_prefix(mixed) == 0
    assert shared_prefix(prompts(rubric + [1])) == 0
