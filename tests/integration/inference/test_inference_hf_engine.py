"""The HF engine on the tiny model: batching gives the same answers as one-by-one, seeds,
stop strings, length limits, merged exports, and adapter loading with its checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from advisor_inference.adapters.service import AdapterService
from advisor_inference.core.config import Settings
from advisor_inference.engines.base import GenerationRequest, SamplingParams
from advisor_inference.engines.hf import HFEngine
from advisor_inference.errors import AdapterRefusedError
from advisor_shared.models import resolve_base_model
from tests.unit.inference.lora_factory import publish

pytestmark = pytest.mark.integration
ASK = [{"role": "user", "content": "What is the application deadline?"}]


def req(model: str, **params: object) -> GenerationRequest:
    params.setdefault("temperature", 0.0)
    params.setdefault("max_tokens", 10)
    return GenerationRequest(model, ASK, SamplingParams(**params))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine(
    tiny_model_dir: Path, lora_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
):
    merged_dir = tmp_path_factory.mktemp("merged")
    _merge(tiny_model_dir, lora_dirs["alpha"], merged_dir)
    fingerprint = resolve_base_model(str(tiny_model_dir), tmp_path_factory.mktemp("c")).fingerprint
    hf = HFEngine(
        str(tiny_model_dir),
        base_fingerprint=fingerprint,
        merged_path=str(merged_dir),
        merged_name="alpha-merged",
        batch_window_ms=20,
    )
    asyncio.run(hf.start())
    yield hf
    asyncio.run(hf.close())


def _merge(base: Path, adapter: Path, out: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter))
    model.merge_and_unload().save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)


def test_concurrent_mixed_batch_equals_one_by_one(
    engine: HFEngine, lora_dirs: dict[str, Path]
) -> None:
    async def scenario() -> None:
        await engine.load_adapter("alpha", lora_dirs["alpha"])
        await engine.load_adapter("beta", lora_dirs["beta"])
        alone = {m: (await engine.generate(req(m))).text for m in ("base", "alpha", "beta")}
        assert len(set(alone.values())) == 3  # each adapter changes the answer
        before = engine.scheduler.largest_batch  # type: ignore[union-attr]
        together = await asyncio.gather(
            *(engine.generate(req(m)) for m in ["base", "alpha", "beta"] * 2)
        )
        assert [r.text for r in together] == [alone[m] for m in ["base", "alpha", "beta"] * 2]
        assert engine.scheduler.largest_batch >= max(before, 2)  # type: ignore[union-attr]
        merged = await engine.generate(req("alpha-merged"))
        assert merged.text == alone["alpha"]  # the merged export answers like base + adapter
        await engine.unload_adapter("beta")
        assert "beta" not in engine.models()

    asyncio.run(scenario())


def test_prompts_of_very_different_lengths_answer_as_one_by_one(engine: HFEngine) -> None:
    """Prefilled in separate length groups and merged into one batch: the same greedy answers
    and logprobs as each request alone."""
    long = " ".join(
        f"Point {n}: the fee, the deadline and the documents differ." for n in range(12)
    )
    prompts = ["Deadline?", long, "What is the visa fee in Norvania?", long + " Summarise."]

    def ask(prompt: str) -> GenerationRequest:
        return GenerationRequest(
            "base",
            [{"role": "user", "content": prompt}],
            SamplingParams(temperature=0.0, max_tokens=8, logprobs=True),
        )

    async def scenario() -> None:
        alone = [await engine.generate(ask(p)) for p in prompts]
        before = engine.scheduler.prefills  # type: ignore[union-attr]
        together = await asyncio.gather(*(engine.generate(ask(p)) for p in prompts))
        assert [r.text for r in together] == [r.text for r in alone]
        for mine, theirs in zip(together, alone, strict=True):
            assert [t.logprob for t in mine.logprobs] == pytest.approx(
                [t.logprob for t in theirs.logprobs], abs=1e-4
            )
        # at least the short and the long prompts were prefilled apart
        assert engine.scheduler.prefills - before >= 2  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_prompts_with_a_long_shared_system_prompt_answer_as_one_by_one(engine: HFEngine) -> None:
    """The shared start is computed once for the batch: the same greedy answers and logprobs."""
    rubric = "You compare two answers. " + " ".join(f"Rule {n}: be exact." for n in range(15))
    questions = ["Deadline?", "What is the visa fee in Norvania?", "Which documents?", "Fees?"]

    def ask(question: str) -> GenerationRequest:
        messages = [{"role": "system", "content": rubric}, {"role": "user", "content": question}]
        return GenerationRequest(
            "base", messages, SamplingParams(temperature=0.0, max_tokens=8, logprobs=True)
        )

    async def scenario() -> None:
        alone = [await engine.generate(ask(q)) for q in questions]
        saved = engine.scheduler.prefill_tokens_saved  # type: ignore[union-attr]
        together = await asyncio.gather(*(engine.generate(ask(q)) for q in questions))
        assert [r.text for r in together] == [r.text for r in alone]
        # the rubric was computed once for the rows prefilled together
        assert engine.scheduler.prefill_tokens_saved > saved  # type: ignore[union-attr]
        for mine, theirs in zip(together, alone, strict=True):
            assert [t.logprob for t in mine.logprobs] == pytest.approx(
                [t.logprob for t in theirs.logprobs], abs=1e-4
            )

    asyncio.run(scenario())


def test_seed_stop_and_length(engine: HFEngine) -> None:
    async def scenario() -> None:
        sampled = [
            await engine.generate(req("base", temperature=1.0, seed=s, max_tokens=12))
            for s in (7, 7, 8)
        ]
        assert sampled[0].text == sampled[1].text != sampled[2].text
        long = await engine.generate(req("base", max_tokens=6))
        assert long.finish_reason == "length" and long.completion_tokens == 6
        stop = long.text[2:4]
        cut = await engine.generate(req("base", max_tokens=6, stop=(stop,)))
        assert cut.finish_reason == "stop" and cut.text == long.text[: long.text.index(stop)]

    asyncio.run(scenario())


def _service(engine: HFEngine, store, tmp_path: Path, **settings: object) -> AdapterService:  # type: ignore[no-untyped-def]
    config = Settings(adapter_dir=tmp_path / "unpacked", **settings)  # type: ignore[arg-type]
    return AdapterService(store, engine, config)


def test_load_through_either_store_and_refuse_a_flipped_byte(
    engine: HFEngine, any_store, lora_dirs: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    from tests.integration.inference import hostile_bundles

    service = _service(engine, any_store, tmp_path)
    publish(any_store, "gamma", lora_dirs["beta"], tiny_model_dir, tmp_path)
    ref = publish(any_store, "gamma", lora_dirs["beta"], tiny_model_dir, tmp_path)
    hostile_bundles.flip_byte(any_store, ref)

    async def scenario() -> None:
        with pytest.raises(AdapterRefusedError, match="does not match its sha256"):
            await service.load("gamma@v0002")
        assert not (tmp_path / "unpacked" / "gamma" / "v0002").exists()
        loaded = await service.load("gamma@v0001")
        assert loaded.canary.effective and loaded.canary.differing >= 1
        await service.unload("gamma")

    asyncio.run(scenario())


def test_template_mismatch_refused_or_flagged(
    engine: HFEngine, local_store, lora_dirs: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    other = tmp_path / "other-template"
    shutil.copytree(lora_dirs["alpha"], other)
    (other / "chat_template.jinja").write_text("Human: {{ messages[0]['content'] }}\nAssistant:")
    publish(local_store, "human", other, tiny_model_dir, tmp_path)

    async def scenario() -> None:
        with pytest.raises(AdapterRefusedError, match="chat template mismatch") as err:
            await _service(engine, local_store, tmp_path).load("human")
        assert err.value.code == "chat_template_mismatch"
        flagged = await _service(engine, local_store, tmp_path, template_mismatch="flag").load(
            "human"
        )
        assert flagged.template_mismatch and "mismatch" in flagged.warnings[0]
        await engine.unload_adapter("human")

    asyncio.run(scenario())


def test_an_adapter_that_changes_nothing_is_reported_ineffective(
    engine: HFEngine, local_store, lora_dirs: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    publish(local_store, "inert", lora_dirs["inert"], tiny_model_dir, tmp_path)

    async def scenario() -> None:
        reported = await _service(engine, local_store, tmp_path).load("inert")
        assert reported.canary.differing == 0 and not reported.canary.effective
        assert "no visible effect" in reported.warnings[0]
        await engine.unload_adapter("inert")
        with pytest.raises(AdapterRefusedError) as err:
            await _service(engine, local_store, tmp_path, canary_policy="refuse").load("inert")
        assert err.value.code == "adapter_ineffective" and "inert" not in engine.models()

    asyncio.run(scenario())


def _reference_logprobs(model_dir: Path, steps: int, top: int) -> list[tuple[int, float, list]]:
    """Greedy decoding with transformers' plain forward over the whole sequence at every step:
    (chosen id, its logprob, the top ids with logprobs) per step."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    text = tokenizer.apply_chat_template(ASK, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    found = []
    with torch.inference_mode():
        for _ in range(steps):
            logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)
            best = logprobs.topk(top)
            chosen = int(best.indices[0])
            found.append(
                (
                    chosen,
                    float(logprobs[chosen]),
                    list(zip(best.indices.tolist(), best.values.tolist(), strict=True)),
                )
            )
            ids.append(chosen)
    return found


def test_logprobs_are_the_models_own_distribution_in_a_mixed_batch(
    engine: HFEngine, tiny_model_dir: Path, lora_dirs: dict[str, Path]
) -> None:
    """Per generated token: its logprob and the top alternatives equal a plain forward's, for a
    row batched with adapter rows that asked for none; the bytes spell the text."""
    from transformers import AutoTokenizer

    asked = req("base", max_tokens=6, ignore_eos=True, logprobs=True, top_logprobs=4)

    async def scenario() -> list:
        if "alpha" not in engine.models():
            await engine.load_adapter("alpha", lora_dirs["alpha"])
        return await asyncio.gather(
            engine.generate(req("alpha", max_tokens=9)),
            engine.generate(asked),
            engine.generate(req("alpha", max_tokens=3, logprobs=True)),
        )

    plain, result, short = asyncio.run(scenario())
    assert plain.logprobs is None
    assert short.logprobs is not None and len(short.logprobs) == 3
    assert all(t.top_logprobs == () for t in short.logprobs)
    assert result.logprobs is not None and len(result.logprobs) == result.completion_tokens == 6
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for got, (chosen, logprob, top) in zip(
        result.logprobs, _reference_logprobs(tiny_model_dir, 6, 4), strict=True
    ):
        assert got.logprob == pytest.approx(logprob, abs=1e-4)
        assert [t.token for t in got.top_logprobs] == [
            tokenizer.decode([i]) for i, _ in top
        ]  # greedy: the chosen token is the most likely one
        assert [t.logprob for t in got.top_logprobs] == pytest.approx([v for _, v in top], abs=1e-4)
        assert got.token == got.top_logprobs[0].token == tokenizer.decode([chosen])
    assert b"".join(bytes(t.bytes or []) for t in result.logprobs).decode() == result.text
