"""Decoding over the static KV cache gives transformers' own logits and tokens: per step
against the model's forward, and through the engine with rows joining, finishing at different
lengths and moving slots, with and without an adapter."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_a_step_gives_the_forward_logits_for_rows_of_different_lengths(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf.static_decode import StaticDecoder, supports

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert supports(model) is None
    decoder = StaticDecoder(model, slots=4, tokens=128, use_graphs=False)
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 200, (1, n), generator=generator) for n in (5, 17, 9)]
    histories = []
    with torch.inference_mode():
        for slot, ids in enumerate(prompts):
            out = model(input_ids=ids, use_cache=True)
            layers = out.past_key_values.layers
            decoder.store_prompt(slot, [x.keys[0] for x in layers], [x.values[0] for x in layers])
            histories.append(ids[0].tolist())
        for _ in range(4):
            nxt = [int(torch.randint(3, 200, (1,), generator=generator)) for _ in histories]
            positions = [len(h) for h in histories]
            got = decoder.decode(model, ("base",), nxt, positions)
            for row, token in enumerate(nxt):
                histories[row].append(token)
                want = model(input_ids=torch.tensor([histories[row]])).logits[0, -1]
                assert torch.allclose(got[row], want, atol=1e-4), (row, len(histories[row]))


def test_moving_a_slot_keeps_its_row_decoding_the_same(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf.static_decode import StaticDecoder

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    decoder = StaticDecoder(model, slots=3, tokens=64, use_graphs=False)
    ids = torch.randint(3, 200, (1, 7), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        layers = model(input_ids=ids, use_cache=True).past_key_values.layers
        decoder.store_prompt(2, [x.keys[0] for x in layers], [x.values[0] for x in layers])
        decoder.move(2, 0, 7)
        got = decoder.decode(model, ("base",), [11], [7])[0]
        want = model(input_ids=torch.cat([ids, torch.tensor([[11]])], dim=1)).logits[0, -1]
    assert torch.allclose(got, want, atol=1e-4)


def test_a_step_past_the_cache_is_refused(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf.static_decode import StaticDecoder

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    decoder = StaticDecoder(model, slots=2, tokens=64, use_graphs=False)
    with pytest.raises(ValueError, match="past the cache"):
        decoder.decode(model, ("base",), [5], [64])
    with pytest.raises(ValueError, match="1..2 rows"):
        decoder.decode(model, ("base",), [5, 6, 7], [1, 2, 3])


def test_unsupported_architectures_say_why(tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf.static_decode import supports

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.config.sliding_window = 16
    assert supports(model) == "a sliding attention window"
    model.config.model_type = "gpt2"
    assert "architecture 'gpt2'" in (supports(model) or "")


def test_fused_products_with_an_adapter_give_peft_s_logits(tiny_model_dir) -> None:
    """The fused (q, k, v) and (gate, up) products add an adapter's update on the right
    slices, including for projections the adapter leaves out (here k and gate); base rows
    and peft's own path (no lean adapter selected) give their logits too."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf import lora_fast
    from advisor_inference.engines.hf.static_decode import StaticDecoder

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    decoder = StaticDecoder(model, slots=2, tokens=64, use_graphs=False)
    prompt = torch.randint(3, 200, (1, 6), generator=torch.Generator().manual_seed(4))

    def step(key, token):
        with torch.inference_mode():
            out = model(input_ids=prompt, use_cache=True)
            layers = out.past_key_values.layers
            decoder.store_prompt(0, [x.keys[0] for x in layers], [x.values[0] for x in layers])
            return decoder.decode(model, key, [token], [prompt.shape[1]])[0]

    def forward(token):
        with torch.inference_mode():
            return model(input_ids=torch.cat([prompt, torch.tensor([[token]])], 1)).logits[0, -1]

    base = step(("base",), 9)  # fuses the base weights before peft wraps the layers
    assert torch.allclose(base, forward(9), atol=1e-4)
    targets = ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"]
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1, generator=torch.Generator().manual_seed(5))
    lora_fast.install(peft_model)
    with torch.inference_mode():
        tuned = peft_model(input_ids=torch.cat([prompt, torch.tensor([[9]])], 1)).logits[0, -1]
    assert not torch.allclose(tuned, base, atol=1e-3)  # the adapter changes the answer
    with lora_fast.use("default"):
        lean = step(("base", "default", True), 9)
    assert torch.allclose(lean, tuned, atol=1e-4)
    assert torch.allclose(step(("base", "default", False), 9), tuned, atol=1e-4)  # peft's path
    peft_model.base_model.disable_adapter_layers()
    assert torch.allclose(step(("base", None, False), 9), base, atol=1e-4)


def make_adapter(base_dir, out_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    peft_model.save_pretrained(out_dir)
    return out_dir


async def generate_all(engine, jobs):
    from advisor_inference.engines.base import GenerationRequest, SamplingParams

    async def one(model, text, tokens, delay):
        await asyncio.sleep(delay)  # later requests join a running batch
        # Every other row asks for logprobs: rows with and without them share steps.
        params = SamplingParams(
            max_tokens=tokens,
            temperature=0.0,
            ignore_eos=True,
            logprobs=tokens % 2 == 0,
            top_logprobs=tokens % 4,
        )
        result = await engine.generate(
            GenerationRequest(model, [{"role": "user", "content": text}], params)
        )
        return result.text, result.completion_tokens, result.logprobs

    return await asyncio.gather(*(one(*job) for job in jobs))


def test_the_engine_decodes_the_same_tokens_static_and_dynamic(
    embedded_model_dir, tmp_path
) -> None:
    """The embedded model (a random one repeats itself whatever its cache holds)."""
    from advisor_inference.engines.hf import HFEngine

    adapter = make_adapter(embedded_model_dir, tmp_path / "adapter")
    words = "visa fee deadline scholarship insurance tuition housing permit".split()
    jobs = [
        ("base" if i % 3 else "advisor", " ".join(words[: 2 + i % 7]), 4 + (i * 5) % 13, i * 0.01)
        for i in range(9)
    ]

    async def run(decode):
        engine = HFEngine(
            str(embedded_model_dir),
            base_fingerprint="x",
            max_batch_size=4,
            batch_window_ms=2,
            decode=decode,
        )
        await engine.start()
        await engine.load_adapter("advisor", adapter)
        try:
            results = await generate_all(engine, jobs)
            runner = engine.scheduler.runner
            return results, runner.static is not None, engine.scheduler.largest_batch
        finally:
            await engine.close()

    static, used_static, largest = asyncio.run(run("static"))
    dynamic, used_dynamic, _ = asyncio.run(run("dynamic"))
    assert used_static and not used_dynamic
    assert largest > 1  # rows really shared steps
    assert [t for _, t, _ in static] == [tokens for _, _, tokens, _ in jobs]
    assert [r[:2] for r in static] == [r[:2] for r in dynamic]
    assert len({text for text, _, _ in static}) > 1
    # Logprobs: the same tokens with the same values (up to float rounding) on both paths.
    for (_, tokens, mine), (_, _, theirs) in zip(static, dynamic, strict=True):
        if tokens % 2:
            assert mine is None and theirs is None
            continue
        assert [t.token for t in mine] == [t.token for t in theirs] and len(mine) == tokens
        assert [t.logprob for t in mine] == pytest.approx([t.logprob for t in theirs], abs=1e-3)
        assert all(len(t.top_logprobs) == tokens % 4 for t in mine)
        for a, b in zip(mine, theirs, strict=True):
            assert [x.token for x in a.top_logprobs] == [x.token for x in b.top_logprobs]


def test_the_engine_refuses_an_unknown_decode_mode(tiny_model_dir) -> None:
    from advisor_inference.engines.hf import HFEngine

    with pytest.raises(ValueError, match="decode must be one of"):
        HFEngine(str(tiny_model_dir), base_fingerprint="x", decode="graphs")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_graph_replays_give_the_forward_logits(tiny_model_dir) -> None:
    """Captured once, replayed with new tokens and positions: still the forward's logits."""
    from transformers import AutoModelForCausalLM

    from advisor_inference.engines.hf.static_decode import StaticDecoder

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).cuda().eval()
    decoder = StaticDecoder(model, slots=4, tokens=64)
    assert decoder.use_graphs
    generator = torch.Generator().manual_seed(0)
    histories = [torch.randint(3, 200, (n,), generator=generator).tolist() for n in (5, 17, 9)]
    with torch.inference_mode():
        for slot, ids in enumerate(histories):
            layers = model(
                input_ids=torch.tensor([ids]).cuda(), use_cache=True
            ).past_key_values.layers
            decoder.store_prompt(slot, [x.keys[0] for x in layers], [x.values[0] for x in layers])
        for _ in range(5):
            nxt = [int(torch.randint(3, 200, (1,), generator=generator)) for _ in histories]
            got = decoder.decode(model, ("base",), nxt, [len(h) for h in histories]).clone()
            for row, token in enumerate(nxt):
                histories[row].append(token)
                want = model(input_ids=torch.tensor([histories[row]]).cuda()).logits[0, -1]
                assert torch.allclose(got[row], want, atol=1e-3), (row, len(histories[row]))
    assert len(decoder._graphs) == 1  # one capture (3 rows in the 4-row bucket), then replays
