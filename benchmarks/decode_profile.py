"""Where a static decode step's time goes, on a CUDA GPU with a Mistral-7B-shaped model.

`inference_gpu.py` times the engine from request to last token. This splits one token's time
into what the GPU does and what the host adds, so an optimisation can be aimed:

- `graph_step_ms`: one decode step of the engine's `StaticDecoder` replayed as a CUDA graph
  (rows 1, 8 and 32 at a 512-token cache length): the GPU's share of a token;
- `linears_ms`: only the step's matrix products (the seven projections of every layer and the
  LM head) replayed as one graph, as the model holds them (`separate`) and with the query, key
  and value weights of a layer in one matrix and the gate and up weights in another (`fused`),
  the layout vLLM serves; with the bandwidth each reaches (weight bytes / time);
- `engine_token_ms` (given `--engine-result`, an `inference_gpu.py` JSON of the same machine):
  the engine's batch-1 time per token, so `host_ms = engine_token_ms - graph_step_ms`.

    python benchmarks/decode_profile.py --out benchmarks/results/decode_profile.json \
        --engine-result benchmarks/results/inference_gpu.json
    python benchmarks/decode_profile.py --smoke --out /tmp/decode_profile.json   # CPU: shapes only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_gpu import SHAPE_7B, SHAPE_SMOKE, build_model  # noqa: E402

LENGTH = 512  # cache positions a step attends over (the engine's bucket for a 256+128 request)


def timed(run: Any, repeats: int, cuda: bool) -> float:
    """Median milliseconds of `run()` over `repeats` calls after two warm-up calls."""
    import statistics

    import torch

    for _ in range(2):
        run()
    samples = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            began = time.perf_counter()
            run()
            samples.append((time.perf_counter() - began) * 1e3)
    return statistics.median(samples)


def as_graph(work: Any, cuda: bool) -> Any:
    """`work` captured once as a CUDA graph (its replay), or `work` itself on the CPU."""
    import torch

    if not cuda:
        return work
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        work()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        work()
    return graph.replay


def layer_weights(model: Any, fused: bool) -> list[Any]:
    """The step's weight matrices, per layer, as the model holds them or fused like vLLM's."""
    import torch

    matrices = []
    for layer in model.model.layers:
        a, m = layer.self_attn, layer.mlp
        if fused:
            matrices += [
                torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
                a.o_proj.weight,
                torch.cat([m.gate_proj.weight, m.up_proj.weight]),
                m.down_proj.weight,
            ]
        else:
            matrices += [
                a.q_proj.weight,
                a.k_proj.weight,
                a.v_proj.weight,
                a.o_proj.weight,
                m.gate_proj.weight,
                m.up_proj.weight,
                m.down_proj.weight,
            ]
    return matrices + [model.lm_head.weight]


def linears_only(weights: list[Any], rows: int, cuda: bool, repeats: int) -> dict[str, float]:
    """One product per matrix with an input of `rows` tokens (inputs sized per matrix)."""
    import torch
    import torch.nn.functional as F

    device = weights[0].device
    inputs = {
        w.shape[1]: torch.randn(rows, w.shape[1], dtype=w.dtype, device=device) for w in weights
    }

    def work() -> None:
        for w in weights:
            F.linear(inputs[w.shape[1]], w)

    with torch.inference_mode():
        ms = timed(as_graph(work, cuda), repeats, cuda)
    size = sum(w.numel() * w.element_size() for w in weights)
    return {
        "ms": ms,
        "kernels": len(weights),
        "weight_gb": size / 1e9,
        "bandwidth_tb_per_s": size / (ms / 1e3) / 1e12,
    }


def graph_step(model: Any, rows: int, cuda: bool, repeats: int) -> float:
    """Milliseconds of one `StaticDecoder` step of `rows` rows at `LENGTH` (graph on CUDA)."""
    from advisor_inference.engines.hf.static_decode import StaticDecoder

    decoder = StaticDecoder(model, slots=max(rows, 1), tokens=LENGTH, use_graphs=cuda)
    ids, positions = [5] * rows, [LENGTH - 2] * rows
    decoder.decode(model, ("profile",), ids, positions)  # captures on CUDA

    def step() -> None:
        decoder.decode(model, ("profile",), ids, positions)

    return timed(step, repeats, cuda)


def kernel_table(model: Any, rows: int, top: int = 25) -> dict[str, Any]:
    """The GPU kernels of one eager step of `rows` rows (torch.profiler): count and time by name.

    Their summed time against `graph_step_ms` shows what the graph's replay still spends
    between kernels; the table shows which operations cost most."""
    from torch.profiler import ProfilerActivity, profile

    from advisor_inference.engines.hf.static_decode import StaticDecoder

    decoder = StaticDecoder(model, slots=rows, tokens=LENGTH, use_graphs=False)
    ids, positions = [5] * rows, [LENGTH - 2] * rows
    for _ in range(2):
        decoder.decode(model, ("profile",), ids, positions)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        decoder.decode(model, ("profile",), ids, positions)
    events = [e for e in prof.key_averages() if e.device_time_total > 0]
    events.sort(key=lambda e: e.device_time_total, reverse=True)
    return {
        "kernels": sum(e.count for e in events),
        "kernel_ms": sum(e.device_time_total for e in events) / 1e3,
        "top": [
            {"name": e.key[:120], "count": e.count, "ms": e.device_time_total / 1e3}
            for e in events[:top]
        ],
    }


def engine_token_ms(path: Path | None) -> float | None:
    if path is None or not path.is_file():
        return None
    result = json.loads(path.read_text())
    return 1e3 / result["batch1_decode_tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/decode-profile-model"))
    parser.add_argument(
        "--engine-result",
        type=Path,
        default=None,
        help="an inference_gpu.py JSON from the same machine",
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available() and not args.smoke
    device = "cuda" if cuda else "cpu"
    build_model(args.model_dir, SHAPE_SMOKE if args.smoke else SHAPE_7B, device)
    model = AutoModelForCausalLM.from_pretrained(
        args.model_dir, dtype=torch.bfloat16, device_map={"": device}
    )
    model.eval()
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/decode_profile.py", *sys.argv[1:]]),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "versions": {"torch": torch.__version__},
        "cache_length": LENGTH,
        "graph_step_ms": {},
        "linears_ms": {},
    }
    for rows in (1, 8, 32):
        result["graph_step_ms"][str(rows)] = graph_step(model, rows, cuda, args.repeats)
        result["linears_ms"][str(rows)] = {
            layout: linears_only(layer_weights(model, layout == "fused"), rows, cuda, args.repeats)
            for layout in ("separate", "fused")
        }
        if cuda:
            torch.cuda.empty_cache()
    if cuda:
        result["kernels_rows_1"] = kernel_table(model, 1)
    token_ms = engine_token_ms(args.engine_result)
    if token_ms is not None:
        result["engine_token_ms"] = token_ms
        result["host_ms"] = token_ms - result["graph_step_ms"]["1"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
