"""The HF engine on a CUDA GPU with a Mistral-7B-shaped model (random weights, bf16).

Measures, through the engine the gateway runs (`advisor_inference.engines.hf.HFEngine`, its
dynamic batching, per-request adapters), in one run so that ratios share the machine's state:

- `static`: the engine's static decoding (a preallocated KV cache, steps replayed as CUDA
  graphs): throughput at 1, 8 and 32 concurrent requests, base model, LoRA adapter (r=16 on the
  seven projections, unmerged) through the lean path, and through peft's forward;
- `static-nf4`: the same with the base in bitsandbytes' 4-bit NormalFloat, with its memory;
- `transformers-static`: the baseline to beat, plain transformers `generate()` with its own
  static cache (compiled by transformers, CUDA graphs), the same prompts and lengths;
- `dynamic` (on request): the engine's eager decoding through transformers' forward;
- the adapter's load time from the object store (a committed bundle in a LocalStore) through
  the gateway's `AdapterService`: download and verification, checks, attaching, the canary;
- batch-1 decode speed against the memory-bandwidth limit (weight bytes / copy bandwidth).

Every request has its own prompt (random words, one token each, through the chat template)
and generates exactly `--tokens` tokens (greedy, end of sequence ignored). A concurrency level
runs all its requests at once and is timed from submission to the last token; the first
round of each (model, level) is an untimed warm-up (graphs are captured there); the best of
`--repeats` rounds is kept (all rounds are recorded). Each engine's figures are also written
to `<out>.partial.json` as soon as they exist.

    python benchmarks/inference_gpu.py --out benchmarks/results/inference_gpu.json
    python benchmarks/inference_gpu.py --smoke --model-dir /tmp/smoke-model --configs static dynamic \
        --out /tmp/i.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_gpu import SHAPE_7B, SHAPE_SMOKE, TARGETS, build_model  # noqa: E402

COPY_BANDWIDTH = 4.3e12  # bytes/s, device-to-device copy measured on this H200 (read + write)


def make_adapter_bundle(model_dir: Path, store, rank: int, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A committed bundle of a random rank-`rank` LoRA on the seven projections, with PEFT's
    own key names (taken from peft on the meta device) and the model folder's template."""
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from advisor_shared.bundle import write_bundle
    from advisor_shared.chat_template import template_fingerprint, tokenizer_template
    from advisor_shared.models import model_fingerprint

    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=TARGETS,
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    names = {
        k: tuple(v.shape)
        for k, v in get_peft_model_state_dict(get_peft_model(skeleton, config)).items()
    }
    generator = torch.Generator().manual_seed(0)
    tensors = {
        k: (torch.randn(shape, generator=generator) * 0.02).contiguous()
        for k, shape in names.items()
    }
    folder = Path(store.root).parent / "bundle-src"
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"), {"format": "pt"})
    config.base_model_name_or_path = str(model_dir)
    config.save_pretrained(str(folder))
    template = tokenizer_template(AutoTokenizer.from_pretrained(model_dir))
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    (folder / "trainer_state.json").write_text("{}")
    ref = write_bundle(
        store,
        name,
        folder,
        base_model_id=str(model_dir),
        base_fingerprint=model_fingerprint(model_dir),
        chat_template_sha256=template_fingerprint(template),
    )
    size = (folder / "adapter_model.safetensors").stat().st_size
    return {"ref": str(ref), "tensors": len(tensors), "adapter_mb": round(size / 1e6, 1)}


def prompt(rng: random.Random, words: int, vocab: int) -> str:
    return " ".join(f"t{rng.randrange(3, vocab)}" for _ in range(words))


async def one_request(engine, model: str, text: str, tokens: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from advisor_inference.engines.base import GenerationRequest, SamplingParams

    params = SamplingParams(max_tokens=tokens, temperature=0.0, ignore_eos=True)
    started = time.perf_counter()
    first = last = None
    count = 0
    stream = await engine.stream(
        GenerationRequest(model, [{"role": "user", "content": text}], params)
    )
    async for delta in stream:
        now = time.perf_counter()
        if delta.text and first is None:
            first = now
        last = now
        if delta.finish_reason is not None:
            count = delta.completion_tokens or 0
    return {"start": started, "first": first or last, "last": last, "tokens": count}


async def level(engine, model: str, prompts: list[str], tokens: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    results = await asyncio.gather(*(one_request(engine, model, p, tokens) for p in prompts))
    wall = time.perf_counter() - started
    generated = sum(r["tokens"] for r in results)
    decode = [
        (r["tokens"] - 1) / (r["last"] - r["first"])
        for r in results
        if r["tokens"] > 1 and r["last"] > r["first"]
    ]
    return {
        "concurrency": len(prompts),
        "wall_s": wall,
        "generated_tokens": generated,
        "tokens_per_s": generated / wall,
        "ttft_s_median": statistics.median(r["first"] - r["start"] for r in results),
        "decode_tokens_per_s_per_request_median": statistics.median(decode) if decode else None,
    }


async def measure_engine(
    args: argparse.Namespace,
    label: str,
    prompts: list[str],
    shape: dict[str, int],
    store,
    labels: tuple[str, ...],
    **engine_options: Any,
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Start an engine, load the adapter through the gateway's service, run every level."""
    import torch

    from advisor_inference.adapters.service import AdapterService
    from advisor_inference.core.config import Settings
    from advisor_inference.engines.hf import HFEngine
    from advisor_shared.bundle import BundleRef, read_bundle
    from advisor_shared.models import model_fingerprint

    work = args.work_dir / label
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    engine = HFEngine(
        str(args.model_dir),
        base_fingerprint=model_fingerprint(args.model_dir),
        max_batch_size=max(args.levels),
        batch_window_ms=args.window_ms,
        max_model_len=args.max_model_len,
        **engine_options,
    )
    await engine.start()
    engine_load_s = time.perf_counter() - started
    weights_gb = torch.cuda.memory_allocated() / 1e9 if torch.cuda.is_available() else None

    settings = Settings(api_keys=["bench-key"], adapter_dir=work / "served")
    service = AdapterService(store, engine, settings)
    started = time.perf_counter()
    loaded = await service.load("advisor")
    service_load_s = time.perf_counter() - started
    # The parts: download + verification alone, then attaching alone (a second name).
    started = time.perf_counter()
    copy = read_bundle(store, BundleRef("advisor"), work / "read-again")
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    await engine.load_adapter("advisor-attach", copy.path)
    attach_s = time.perf_counter() - started
    await engine.unload_adapter("advisor-attach")

    levels: dict[str, Any] = {}
    runner = engine.scheduler.runner if engine.scheduler else None
    # "advisor": the engine's lean LoRA path (the default); "advisor-peft": peft's forward.
    for name in labels:
        model = "base" if name == "base" else "advisor"
        if runner is not None:
            runner.lean_lora = name != "advisor-peft"
        for concurrency in args.levels:
            # Warm-up: a whole round (graphs are captured, the cache sizes are met), not kept.
            first = await level(engine, model, prompts[:concurrency], args.tokens)
            rounds = [
                await level(engine, model, prompts[:concurrency], args.tokens)
                for _ in range(args.repeats)
            ]
            best = max(rounds, key=lambda r: r["tokens_per_s"])
            levels[f"{name}/c{concurrency}"] = best | {
                "rounds_tokens_per_s": [round(r["tokens_per_s"], 1) for r in rounds],
                "warm_up_round_tokens_per_s": round(first["tokens_per_s"], 1),
            }
            print(
                f"{label} {name} c{concurrency}: {best['tokens_per_s']:.1f} tokens/s "
                f"(rounds {[round(r['tokens_per_s'], 1) for r in rounds]})",
                flush=True,
            )
    static = runner.static if runner else None
    base_model = runner._models["base"] if runner else None
    params = sum(p.numel() for p in base_model.parameters()) if base_model is not None else None
    result = {
        "engine_options": engine_options,
        "levels": levels,
        "engine_load_s": engine_load_s,
        "adapter_load_s": service_load_s,
        "adapter_load_parts_s": {
            "read_and_verify": read_s,
            "attach": attach_s,
            "checks_and_canary_rest": service_load_s - read_s - attach_s,
        },
        "canary": {"prompts": loaded.canary.prompts, "differing": loaded.canary.differing},
        "largest_batch_seen": engine.scheduler.largest_batch if engine.scheduler else None,
        "static_cache": None
        if static is None
        else {
            "slots": static.shape.slots,
            "tokens": static.shape.tokens,
            "gb": round(static.shape.bytes / 1e9, 2),
            "cuda_graphs": static.use_graphs,
            "graphs_captured": len(static._graphs),
        },
        "weights_gb_allocated": weights_gb,
        "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9
        if torch.cuda.is_available()
        else None,
        "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9
        if torch.cuda.is_available()
        else None,
        "parameters": params,
    }
    await engine.close()
    del engine, runner, static, base_model, service
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def transformers_static_baseline(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    """Plain transformers `generate()` with its static KV cache (which it compiles itself:
    torch.compile "reduce-overhead", CUDA graphs), greedy, exactly `--tokens` new tokens.
    The first call at each batch size compiles and is not kept; the best of the rest is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).cuda().eval()
    results: dict[str, Any] = {}
    for concurrency in args.levels:
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts[:concurrency]
        ]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            "cuda"
        )
        walls = []
        for _ in range(1 + args.repeats):
            torch.cuda.synchronize()
            started = time.perf_counter()
            out = model.generate(
                **batch,
                max_new_tokens=args.tokens,
                min_new_tokens=args.tokens,
                do_sample=False,
                cache_implementation="static",
            )
            torch.cuda.synchronize()
            walls.append(time.perf_counter() - started)
        generated = (out.shape[1] - batch["input_ids"].shape[1]) * concurrency
        best = min(walls[1:])
        results[f"c{concurrency}"] = {
            "tokens_per_s": generated / best,
            "walls_s": [round(w, 3) for w in walls],
        }
        print(
            f"transformers static c{concurrency}: {generated / best:.1f} tokens/s "
            f"(walls {[round(w, 2) for w in walls]})",
            flush=True,
        )
    del model
    torch.cuda.empty_cache()
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from advisor_shared.store import LocalStore

    shape = SHAPE_SMOKE if args.smoke else SHAPE_7B
    build_s = build_model(args.model_dir, shape, "cpu" if args.smoke else "cuda")
    store = LocalStore(args.work_dir / "store")
    bundle = make_adapter_bundle(args.model_dir, store, args.rank, "advisor")
    rng = random.Random(0)
    prompts = [prompt(rng, args.prompt_words, shape["vocab_size"]) for _ in range(max(args.levels))]

    engines: dict[str, Any] = {}
    baseline: dict[str, Any] | None = None
    for config in args.configs:
        if config == "transformers-static":
            baseline = transformers_static_baseline(args, prompts)
            continue
        decode, _, quantization = config.partition("-")  # static, dynamic, static-nf4
        labels = ("base", "advisor", "advisor-peft") if config == "static" else ("base", "advisor")
        engines[config] = await measure_engine(
            args,
            config,
            prompts,
            shape,
            store,
            labels,
            decode=decode,
            quantization=quantization or None,
        )
        # What is measured so far survives a run cut short by a time limit.
        partial = {"engines": engines, "transformers_static_cache": baseline}
        args.out.with_suffix(".partial.json").write_text(json.dumps(partial, indent=1, default=str))

    def tps(config: str, key: str) -> float | None:
        level_ = engines.get(config, {}).get("levels", {}).get(key)
        return float(level_["tokens_per_s"]) if level_ else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    main = engines.get("static") or next(iter(engines.values()))
    params = main["parameters"]
    weight_bytes = params * 2 if params else None
    limit = COPY_BANDWIDTH / weight_bytes if weight_bytes else None  # every weight read per token
    decode_c1 = main["levels"]["base/c1"]["decode_tokens_per_s_per_request_median"]
    on_cuda = torch.cuda.is_available() and not args.smoke
    base_static = {f"c{c}": tps("static", f"base/c{c}") for c in args.levels}
    versus = {
        k: ratio(v, (baseline or {}).get(k, {}).get("tokens_per_s")) for k, v in base_static.items()
    }
    return {
        "command": " ".join(["python", "benchmarks/inference_gpu.py", *sys.argv[1:]]),
        "batch1_decode_tokens_per_s": decode_c1,
        "bandwidth_limit_tokens_per_s": limit,
        "batch1_decode_fraction_of_limit": decode_c1 / limit if decode_c1 and limit else None,
        "tokens_per_s_c8": tps("static", "base/c8"),
        "tokens_per_s_c32": tps("static", "base/c32"),
        "adapter_overhead_ratio_c8": ratio(tps("static", "base/c8"), tps("static", "advisor/c8")),
        "adapter_overhead_ratio_c1": ratio(tps("static", "base/c1"), tps("static", "advisor/c1")),
        "adapter_overhead_ratio_c32": ratio(
            tps("static", "base/c32"), tps("static", "advisor/c32")
        ),
        "adapter_overhead_ratio_c8_peft_path": ratio(
            tps("static", "base/c8"), tps("static", "advisor-peft/c8")
        ),
        "throughput_ratio_c32_vs_c1": ratio(tps("static", "base/c32"), tps("static", "base/c1")),
        "vs_transformers_static_cache": versus,
        "transformers_static_cache": baseline,
        "nf4": None
        if "static-nf4" not in engines
        else {
            "tokens_per_s_c1": tps("static-nf4", "base/c1"),
            "tokens_per_s_c8": tps("static-nf4", "base/c8"),
            "adapter_tokens_per_s_c8": tps("static-nf4", "advisor/c8"),
            "batch1_decode_tokens_per_s": engines["static-nf4"]["levels"]["base/c1"][
                "decode_tokens_per_s_per_request_median"
            ],
            "weights_gb_allocated": engines["static-nf4"]["weights_gb_allocated"],
            "peak_allocated_gb": engines["static-nf4"]["peak_allocated_gb"],
            "peak_reserved_gb": engines["static-nf4"]["peak_reserved_gb"],
        },
        "dynamic_engine": None
        if "dynamic" not in engines
        else {
            "tokens_per_s": {k: tps("dynamic", k) for k in engines["dynamic"]["levels"]},
            "static_speedup": {
                k: ratio(tps("static", k), tps("dynamic", k)) for k in engines["dynamic"]["levels"]
            },
        },
        "targets": {
            "batch1_decode_fraction_of_limit": ">= 0.5",
            "tokens_per_s_c8": ">= 900",
            "tokens_per_s_c32": ">= 2500",
            "adapter_overhead_ratio_c8": "<= 1.3",
            "vs_transformers_static_cache": "> 1 at every level",
        },
        "engines": engines,
        "details": {
            "model_build_s": build_s,
            "bundle": bundle,
            "tokens_per_request": args.tokens,
            "prompt_words": args.prompt_words,
            "batch_window_ms": args.window_ms,
            "max_model_len": args.max_model_len,
            "weight_bytes_bf16": weight_bytes,
            "copy_bandwidth_bytes_per_s": COPY_BANDWIDTH,
        },
        "environment": {
            "device": torch.cuda.get_device_name(0) if on_cuda else "cpu",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "transformers": __import__("transformers").__version__,
            "peft": __import__("peft").__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/mistral7b-shaped"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/advisor-inference-bench"))
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--tokens", type=int, default=128, help="generated per request")
    parser.add_argument("--prompt-words", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2, help="measured rounds per level")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--window-ms", type=float, default=5.0)
    parser.add_argument(
        "--max-model-len", type=int, default=1024, help="the static KV cache's positions per row"
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["static", "static-nf4", "transformers-static"],
        choices=["static", "dynamic", "static-nf4", "transformers-static"],
        help="engines to measure (decode mode, -nf4: 4-bit weights) and the "
        "plain-transformers static-cache baseline",
    )
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny model (code paths only)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=1))


if __name__ == "__main__":
    main()
