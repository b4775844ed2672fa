"""BERTScore with the packaged MiniLM (6 layers, no rescale) and ROUGE-L, per item."""

from __future__ import annotations

import pytest

from advisor_evaluator.scoring.reference import (
    bertscore,
    bertscores,
    normalise_whitespace,
    rouge_l,
)

pytestmark = pytest.mark.unit
EMBEDDED = {"encoder": "all-minilm-l6-v2", "num_layers": 6, "rescale": False}
REFERENCE = "The Norvania student visa costs 180 euros and takes six weeks to process."


def test_bertscore_ranks_a_paraphrase_above_an_unrelated_answer() -> None:
    same = bertscore(REFERENCE, REFERENCE, EMBEDDED)
    paraphrase = bertscore(
        "A Norvania student visa costs €180; processing takes 6 weeks.", REFERENCE, EMBEDDED
    )
    unrelated = bertscore("Bake the bread at 220 degrees for forty minutes.", REFERENCE, EMBEDDED)
    assert same["f1"] == pytest.approx(1.0, abs=1e-5)
    assert 1.0 > paraphrase["f1"] > unrelated["f1"] > 0.0


def test_whitespace_does_not_change_the_scores() -> None:
    spaced = "The  Norvania student visa\ncosts 180 euros   and takes six weeks to process."
    assert normalise_whitespace(spaced) == REFERENCE
    assert bertscore(spaced, REFERENCE, EMBEDDED)["f1"] == pytest.approx(1.0, abs=1e-5)
    assert rouge_l(spaced, REFERENCE) == 1.0


def test_rouge_l_is_f1_of_the_longest_common_subsequence() -> None:
    # LCS "the visa costs 180 euros" = 5 of 5 candidate tokens and 5 of 13 reference tokens.
    assert rouge_l("the visa costs 180 euros", REFERENCE) == pytest.approx(
        2 * 1 * (5 / 13) / (1 + 5 / 13)
    )
    assert rouge_l("", REFERENCE) == 0.0


def test_an_empty_answer_scores_the_floor_and_the_rest_of_its_batch_as_usual() -> None:
    # A model with nothing to say returns "": bert-score's tokenizers cannot encode it, and
    # one empty answer must not fail the whole chunk.
    scores = bertscores(["", " \n", REFERENCE], [REFERENCE, REFERENCE, REFERENCE], EMBEDDED)
    assert scores[0] == scores[1] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert scores[2]["f1"] == pytest.approx(1.0, abs=1e-5)
