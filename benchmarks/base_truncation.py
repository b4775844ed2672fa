"""How often the embedded base model ends its answer by itself, against the token cap: the
share of answers a cap of k new tokens would cut, for several k, from one greedy run per prompt
(greedy decoding is prefix-stable, so the first k tokens of a long run are the k-token run).

The demo decodes greedily, as the paper did; SmolLM2-135M-Instruct then often repeats itself
until the cap, so raising the cap costs time without bringing its truncation under the 20 %
the evaluation aims for. This measures that on the sample's test prompts (first user turn,
de-duplicated), in the dtype the gateway's HF engine would choose on this CPU.

    python benchmarks/base_truncation.py --out benchmarks/results/base_truncation.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPS = (128, 192, 256, 384, 512, 640)


def first_user_turns(path: Path) -> list[str]:
    seen: dict[str, None] = {}
    for line in path.read_text().splitlines():
        messages = json.loads(line)["messages"]
        seen.setdefault(next(m["content"] for m in messages if m["role"] == "user"))
    return list(seen)


def answer_lengths(prompts: list[str], longest: int, batch: int) -> list[int | None]:
    """Tokens each greedy answer takes to its end-of-turn, None when it runs past `longest`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from advisor_inference.engines.hf.runner import choose_device
    from advisor_shared.models import materialise_smollm2
    from advisor_shared.settings import AdvisorSettings

    location = materialise_smollm2(AdvisorSettings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(location, padding_side="left")
    dtype = choose_device("cpu").dtype
    model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype).eval()
    stops = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    lengths: list[int | None] = []
    for start in range(0, len(prompts), batch):
        chats = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts[start : start + batch]
        ]
        inputs = tokenizer(chats, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=longest, do_sample=False)
        for row in out[:, inputs["input_ids"].shape[1] :].tolist():
            ends = [i for i, token in enumerate(row) if token in stops]
            lengths.append(ends[0] + 1 if ends else None)
        print(f"{len(lengths)}/{len(prompts)} answers", file=sys.stderr, flush=True)
    return lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, default=REPO / "data/sample/test.jsonl")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/base_truncation.json"
    )
    args = parser.parse_args()
    prompts = first_user_turns(args.prompts)
    started = time.monotonic()
    lengths = answer_lengths(prompts, max(CAPS), args.batch)
    cut = {
        str(cap): round(sum(n is None or n > cap for n in lengths) / len(lengths), 3)
        for cap in CAPS
    }
    result = {
        "command": "python benchmarks/base_truncation.py " + " ".join(sys.argv[1:]),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": "SmolLM2-135M-Instruct (embedded base), greedy",
        "prompts": len(prompts),
        "cut_share_by_cap": cut,
        "answer_tokens": lengths,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(cut))


if __name__ == "__main__":
    main()
